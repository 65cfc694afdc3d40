// Credentials (admins): create an integration or agent key (the secret is shown once, with a
// copy button; it is never stored by the page), list, revoke.
import { html, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { CopyButton, ErrorBox, Page, Pager, useLoad, when } from "../ui.js";

function CreateForm({ ctx, onCreated }) {
  const [kind, setKind] = useState("integration");
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { kind, display_name: name };
      if (days) body.expires_in_days = Number(days);
      onCreated(await ctx.api.post("/credentials", body));
      setName("");
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="new-key">
    <h2 id="new-key">New credential</h2>
    <div class="field"><label for="cred-kind">Kind</label>
      <select id="cred-kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="integration">integration (sk-, scripts and servers)</option>
        <option value="agent">agent (ak-, worker machines)</option>
      </select></div>
    <div class="field"><label for="cred-name">Name</label>
      <input id="cred-name" maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    <div class="field"><label for="cred-days">Expires in (days, optional)</label>
      <input id="cred-days" type="number" min="1" max="3650" step="1" value=${days}
        onInput=${(e) => setDays(e.target.value)} /></div>
    <button type="submit" class="primary">Create</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Secret({ created, onDone }) {
  return html`<div class="card secret" role="alert">
    <h2>Copy the key now</h2>
    <p>This is the only time the secret of <strong>${created.display_name || created.key_prefix}</strong> is shown.</p>
    <p><code class="raw-key" id="raw-key">${created.raw_key}</code></p>
    <${CopyButton} text=${created.raw_key} label="Copy key" />
    <button type="button" onClick=${onDone}>Done</button>
  </div>`;
}

export function CredentialsPage({ ctx }) {
  const [page, setPage] = useState(1);
  const [created, setCreated] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [data, error, reload] = useLoad(
    () => ctx.api.get("/credentials" + query({ current_page: page, per_page: 50 })),
    [page],
  );
  const revoke = async (c) => {
    if (!window.confirm(`Revoke ${c.display_name || c.key_prefix}? Anything using it stops working.`)) return;
    setActionError(null);
    try {
      await ctx.api.del(`/credentials/${encodeURIComponent(c.id)}`);
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  return html`<${Page} title="Credentials">
    ${created
      ? html`<${Secret} created=${created} onDone=${() => setCreated(null)} />`
      : html`<${CreateForm} ctx=${ctx} onCreated=${(c) => { setCreated(c); reload(); }} />`}
    <${ErrorBox} error=${error || actionError} />
    ${data
      ? html`<div class="table-wrap"><table>
          <caption class="sr-only">Credentials</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Prefix</th>
            <th scope="col">Created</th><th scope="col">Last used</th><th scope="col">Expires</th>
            <th scope="col">State</th></tr></thead>
          <tbody>
            ${data.credentials.map(
              (c) => html`<tr>
                <td>${c.display_name || "—"}</td><td>${c.kind}</td><td><code>${c.key_prefix}…</code></td>
                <td>${when(c.created_at)}</td><td>${when(c.last_used_at)}</td><td>${when(c.expires_at)}</td>
                <td>${c.revoked_at
                  ? html`<span class="badge badge-cancelled">revoked</span>`
                  : html`<button type="button" class="danger"
                      aria-label=${"Revoke " + (c.display_name || c.key_prefix)} onClick=${() => revoke(c)}>Revoke</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} meta=${data.page_meta} onPage=${setPage} />`
      : null}
  <//>`;
}
