// Confirm a device pairing: the device shows a user code; a signed-in user enters it here (or
// follows a link with ?user_code=…) and approves it for the current team.
import { html, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page } from "../ui.js";

function codeFromUrl(params) {
  return params.get("user_code") || new URLSearchParams(window.location.search).get("user_code") || "";
}

export function PairPage({ ctx, params }) {
  const [code, setCode] = useState(() => codeFromUrl(params));
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const team = ctx.me.teams.find((t) => t.id === ctx.team);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await ctx.api.post("/desktop/pair/confirm", { user_code: code.trim() }));
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  };
  return html`<${Page} title="Pair a device">
    <p>
      Enter the code your device shows. It will act for you in the team${" "}
      <strong>${team ? team.display_name : ""}</strong> (switch teams above first if needed).
    </p>
    <form class="card inline-form" onSubmit=${submit}>
      <div class="field"><label for="user-code">Code from the device</label>
        <input id="user-code" name="user_code" required autocomplete="off" autocapitalize="characters"
          spellcheck="false" maxlength="64" value=${code} onInput=${(e) => setCode(e.target.value)} /></div>
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Confirming…" : "Confirm"}</button>
    </form>
    <${ErrorBox} error=${error} />
    ${result
      ? html`<p class="success" role="status">Approved${result.device_name ? html`: <strong>${result.device_name}</strong>` : ""}.
          You can return to your device.</p>`
      : null}
  <//>`;
}
