// Members of the current team (admins): invitations, change roles, remove.
import { html, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { ErrorBox, Page, Pager, useLoad, when } from "../ui.js";
import { Invitations } from "./invitations.js";

const ASSIGNABLE = ["admin", "member", "viewer"];

export function MembersPage({ ctx }) {
  const [page, setPage] = useState(1);
  const [actionError, setActionError] = useState(null);
  const base = `/teams/${encodeURIComponent(ctx.team)}/members`;
  const [data, error, reload] = useLoad(
    () => ctx.api.get(base + query({ current_page: page, per_page: 50 })),
    [page],
  );
  const act = async (work) => {
    setActionError(null);
    try {
      await work();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const remove = (m) => {
    if (!window.confirm(`Remove ${m.email_address} from this team?`)) return;
    act(() => ctx.api.del(`${base}/${encodeURIComponent(m.user_id)}`));
  };
  return html`<${Page} title="Members">
    <${Invitations} ctx=${ctx} />
    <${ErrorBox} error=${error || actionError} />
    ${data
      ? html`<div class="table-wrap"><table>
          <caption>Members</caption>
          <thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col">Since</th>
            <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            ${data.members.map(
              (m) => html`<tr>
                <td>${m.display_name || m.email_address}<div class="muted">${m.email_address}</div></td>
                <td>${m.role === "owner" || m.user_id === ctx.me.id
                  ? m.role
                  : html`<select aria-label=${"Role of " + m.email_address} value=${m.role}
                      onChange=${(e) => act(() => ctx.api.put(`${base}/${encodeURIComponent(m.user_id)}`, { role: e.target.value }))}>
                      ${ASSIGNABLE.map((r) => html`<option value=${r}>${r}</option>`)}
                    </select>`}</td>
                <td>${when(m.created_at)}</td>
                <td>${m.role === "owner" || m.user_id === ctx.me.id
                  ? null
                  : html`<button type="button" class="danger" aria-label=${"Remove " + m.email_address}
                      onClick=${() => remove(m)}>Remove</button>`}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} meta=${data.page_meta} onPage=${setPage} />`
      : null}
  <//>`;
}
