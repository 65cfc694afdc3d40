// Invitations of the current team (admins): invite an email address with a role (the link is
// shown once, with a copy button), pending invitations, revoke.
import { html, useState } from "../../vendor/preact-htm.js";
import { CopyButton, ErrorBox, atLeast, useLoad, when } from "../ui.js";

const ROLES_BELOW = { owner: ["admin", "member", "viewer"], admin: ["admin", "member", "viewer"] };

function InviteLink({ created, onDone }) {
  return html`<div class="card secret" role="alert">
    <h2>Send this link to ${created.email_address}</h2>
    <p>It works once and expires ${when(created.expires_at)}. This is the only time it is shown${
      created.emailed ? "; it was also emailed" : ""}.</p>
    <p><code class="raw-key" id="invite-link">${created.accept_url}</code></p>
    <${CopyButton} text=${created.accept_url} label="Copy link" />
    <button type="button" onClick=${onDone}>Done</button>
  </div>`;
}

export function Invitations({ ctx, onChange }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const [created, setCreated] = useState(null);
  const [actionError, setActionError] = useState(null);
  const base = `/teams/${encodeURIComponent(ctx.team)}/invitations`;
  const [data, error, reload] = useLoad(() => ctx.api.get(base + "?per_page=100"), [created]);
  const roles = ROLES_BELOW[ctx.role] || [];
  const invite = async (e) => {
    e.preventDefault();
    setActionError(null);
    try {
      setCreated(await ctx.api.post(base, { email_address: email.trim(), role }));
      setEmail("");
    } catch (err) {
      setActionError(err);
    }
  };
  const revoke = async (inv) => {
    if (!window.confirm(`Revoke the invitation of ${inv.email_address}?`)) return;
    setActionError(null);
    try {
      await ctx.api.del(`${base}/${encodeURIComponent(inv.id)}`);
      reload();
      if (onChange) onChange();
    } catch (err) {
      setActionError(err);
    }
  };
  if (!atLeast(ctx.role, "admin")) return null;
  return html`<section aria-labelledby="invite-title">
    <form class="card inline-form" onSubmit=${invite}>
      <h2 id="invite-title">Invite someone</h2>
      <p class="muted">They get a link to join with this role: they sign in, or create their account.</p>
      <div class="field"><label for="invite-email">Email address</label>
        <input id="invite-email" type="email" required value=${email} onInput=${(e) => setEmail(e.target.value)} /></div>
      <div class="field"><label for="invite-role">Role</label>
        <select id="invite-role" value=${role} onChange=${(e) => setRole(e.target.value)}>
          ${roles.map((r) => html`<option value=${r}>${r}</option>`)}
        </select></div>
      <button type="submit" class="primary">Invite</button>
    </form>
    ${created ? html`<${InviteLink} created=${created} onDone=${() => setCreated(null)} />` : null}
    <${ErrorBox} error=${error || actionError} />
    ${data && data.invitations.length
      ? html`<div class="table-wrap"><table>
          <caption>Pending invitations</caption>
          <thead><tr><th scope="col">Email address</th><th scope="col">Role</th><th scope="col">Expires</th>
            <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            ${data.invitations.map(
              (inv) => html`<tr>
                <td>${inv.email_address}</td><td>${inv.role}</td><td>${when(inv.expires_at)}</td>
                <td><button type="button" class="danger" aria-label=${"Revoke the invitation of " + inv.email_address}
                  onClick=${() => revoke(inv)}>Revoke</button></td>
              </tr>`,
            )}
          </tbody>
        </table></div>`
      : null}
  </section>`;
}
