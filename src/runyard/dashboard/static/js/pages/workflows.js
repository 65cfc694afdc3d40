import { html, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { ErrorBox, Page, Pager, atLeast, useLoad, when } from "../ui.js";

export function WorkflowsPage({ ctx }) {
  const [page, setPage] = useState(1);
  const [data, error] = useLoad(
    () => ctx.api.get("/workflows" + query({ current_page: page, per_page: 50 })),
    [page],
  );
  const actions = atLeast(ctx.role, "member")
    ? html`<a class="button primary" href="#/workflows/import">Import a workflow</a>`
    : null;
  return html`<${Page} title="Workflows" actions=${actions}>
    <${ErrorBox} error=${error} />
    ${data
      ? data.workflow_list.length
        ? html`<div class="table-wrap"><table>
            <caption class="sr-only">The team's workflows</caption>
            <thead><tr>
              <th scope="col">Workflow</th><th scope="col">Type</th><th scope="col">Version</th>
              <th scope="col">Labels</th><th scope="col">Status</th><th scope="col">Updated</th>
            </tr></thead>
            <tbody>
              ${data.workflow_list.map(
                (w) => html`<tr>
                  <td><a href=${"#/workflows/" + w.id}>${w.display_name || w.workflow_slug}</a>
                    <div class="muted"><code>${w.workflow_slug}</code></div></td>
                  <td>${w.tool_type}</td>
                  <td>v${w.version}</td>
                  <td>${w.required_labels.map((l) => html`<span class="tag">${l}</span> `)}</td>
                  <td><span class=${"badge badge-" + w.workflow_status}>${w.workflow_status}</span></td>
                  <td>${when(w.updated_at)}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>
          <${Pager} meta=${data.page_meta} onPage=${setPage} />`
        : html`<p>No workflows yet.</p>`
      : error
        ? null
        : html`<p role="status">Loading…</p>`}
  <//>`;
}
