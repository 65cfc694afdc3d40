// The invitation link (#/accept?token=…): join the team. Signed in: one button, as you. Signed
// out: the invited address's password (a new account is created when it has none) and a name.
import { html, useState } from "../../vendor/preact-htm.js";
import { ApiError, toError } from "../api.js";
import { ErrorBox } from "../ui.js";

function joined(api, answer) {
  api.setTokens(answer);
  api.setTeam(answer.team_id);
  window.location.hash = "#/workflows";
  window.location.reload();
}

export function AcceptPage({ api, me, params }) {
  const token = params.get("token") || "";
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const run = async (work) => {
    setBusy(true);
    setError(null);
    try {
      joined(api, await work());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const asMe = () => run(() => api.post("/invitations/accept", { token }));
  const withPassword = (e) => {
    e.preventDefault();
    run(async () => {
      const response = await fetch("/api/v1/invitations/accept", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token, password, display_name: name.trim() }),
      });
      if (!response.ok) throw await toError(response);
      return response.json();
    });
  };
  if (!token) {
    return html`<main id="main" class="narrow"><${ErrorBox}
      error=${new ApiError(404, { error_message: "This link has no invitation token; open the whole link you were sent." })} /></main>`;
  }
  if (me) {
    return html`<main id="main" class="narrow">
      <h1>Join the team</h1>
      <p>You are signed in as <strong>${me.email_address}</strong>. The invitation must be for this address.</p>
      <button type="button" class="primary" disabled=${busy} onClick=${asMe}>Join the team</button>
      <${ErrorBox} error=${error} />
    </main>`;
  }
  return html`<main id="main" class="narrow login">
    <h1>Join the team</h1>
    <p>You were invited to a team on Runyard. Choose a password to create your account, or, if
      you already have one for the invited address, type its password.</p>
    <form onSubmit=${withPassword}>
      <label for="accept-name">Your name</label>
      <input id="accept-name" autocomplete="name" maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} />
      <label for="accept-password">Password (at least 8 characters)</label>
      <input id="accept-password" type="password" autocomplete="new-password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      <${ErrorBox} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Joining…" : "Create account and join"}</button>
    </form>
  </main>`;
}
