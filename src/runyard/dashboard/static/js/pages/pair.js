// Confirm a device pairing: the device shows a user code; a signed-in user enters it here (or
// follows /pair?user_code=… or /#/pair?user_code=…) and approves or denies it for the current
// team. When the server can describe the pending pairing (POST /desktop/pair/lookup), the page
// shows which device asks before the user decides.
import { html, useEffect, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page, when } from "../ui.js";

function codeFromUrl(params) {
  return params.get("user_code") || new URLSearchParams(window.location.search).get("user_code") || "";
}

function Pending({ pending }) {
  if (!pending) return null;
  return html`<div class="card" aria-live="polite">
    <p>Device asking: <strong>${pending.device_name}</strong>
      ${pending.with_agent_key ? html` (it also asks for an agent key: it will run tasks for this team)` : null}</p>
    <p class="muted">Status ${pending.pairing_status} · the code expires ${when(pending.expires_at)}</p>
  </div>`;
}

export function PairPage({ ctx, params }) {
  const [code, setCode] = useState(() => codeFromUrl(params));
  const [pending, setPending] = useState(null);
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const team = ctx.me.teams.find((t) => t.id === ctx.team);

  const lookup = async (value) => {
    setPending(null);
    if (!value.trim()) return;
    try {
      setPending(await ctx.api.post("/desktop/pair/lookup", { user_code: value.trim() }));
    } catch {
      setPending(null); // optional: confirming reports any problem with the code
    }
  };
  useEffect(() => {
    lookup(code);
  }, []);

  const decide = async (action) => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await ctx.api.post(`/desktop/pair/${action}`, { user_code: code.trim() }));
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  const submit = (e) => {
    e.preventDefault();
    decide("confirm");
  };
  return html`<${Page} title="Pair a device">
    <p>
      Enter the code your device shows. It will act for you in the team${" "}
      <strong>${team ? team.display_name : ""}</strong> (switch teams above first if needed).
    </p>
    <form class="card inline-form" onSubmit=${submit}>
      <div class="field"><label for="user-code">Code from the device</label>
        <input id="user-code" name="user_code" required autocomplete="off" autocapitalize="characters"
          spellcheck="false" maxlength="32" value=${code} onInput=${(e) => setCode(e.target.value)}
          onChange=${(e) => lookup(e.target.value)} /></div>
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Working…" : "Confirm"}</button>
      <button type="button" class="danger" disabled=${busy || !code.trim()} onClick=${() => decide("deny")}>Deny</button>
    </form>
    <${Pending} pending=${pending} />
    <${ErrorBox} error=${error} />
    ${result && result.status === "approved"
      ? html`<p class="success" role="status">Approved${result.device_name ? html`: <strong>${result.device_name}</strong>` : ""}.
          You can return to your device.</p>`
      : null}
    ${result && result.status === "denied"
      ? html`<p class="notice" role="status">Denied${result.device_name ? html`: <strong>${result.device_name}</strong>` : ""}.
          The device will not get access.</p>`
      : null}
  <//>`;
}
