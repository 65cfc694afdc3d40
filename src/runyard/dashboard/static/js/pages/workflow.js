// One workflow: its parameters, versions and labels; enable/disable; the run form.
import { html, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page, atLeast, useLoad, when } from "../ui.js";
import { RunForm } from "./runform.js";
import { AgentsWarning } from "./labels.js";
import { Snippets } from "./snippets.js";

function ParameterTable({ params }) {
  if (!params.length) return html`<p>No parameters.</p>`;
  return html`<div class="table-wrap"><table>
    <caption class="sr-only">Parameters</caption>
    <thead><tr><th scope="col">Key</th><th scope="col">Type</th><th scope="col">Required</th>
      <th scope="col">Default</th><th scope="col">Limits</th><th scope="col">Binding</th></tr></thead>
    <tbody>
      ${params.map(
        (p) => html`<tr>
          <td><code>${p.key}</code>${p.label ? html`<div class="muted">${p.label}</div>` : null}</td>
          <td>${p.type}</td>
          <td>${p.required ? "yes" : "no"}</td>
          <td>${p.default === null || p.default === undefined ? "—" : String(p.default)}</td>
          <td>${limitsOf(p)}</td>
          <td>${p.node_id ? html`<code>${p.node_id}.${p.field}</code>` : "—"}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

function limitsOf(p) {
  const out = [];
  if (p.min !== null && p.min !== undefined) out.push(`≥ ${p.min}`);
  if (p.max !== null && p.max !== undefined) out.push(`≤ ${p.max}`);
  if (p.integer) out.push("integer");
  if (p.max_length) out.push(`≤ ${p.max_length} chars`);
  if (p.options) out.push(p.options.join(" | "));
  if (p.accept) out.push(p.accept.join(", "));
  return out.join("; ") || "—";
}

export function WorkflowPage({ ctx, id, params }) {
  const rerun = params && params.get("rerun");
  const [version, setVersion] = useState(() => (params && Number(params.get("version"))) || null);
  const [again] = useLoad(
    () => (rerun ? ctx.api.get(`/r/tasks/${encodeURIComponent(rerun)}`) : Promise.resolve(null)),
    [rerun],
  );
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState(null);
  const [latest, error, reload] = useLoad(() => ctx.api.get(`/workflows/${encodeURIComponent(id)}`), [id]);
  const [shown, shownError] = useLoad(
    () =>
      version && latest && version !== latest.version
        ? ctx.api.get(`/r/workflows/slug/${encodeURIComponent(latest.workflow_slug + "@" + version)}`)
        : Promise.resolve(latest),
    [latest, version],
  );
  if (error) return html`<${Page} title="Workflow"><${ErrorBox} error=${error} /><//>`;
  if (!latest || !shown) return html`<p role="status">Loading…</p>`;

  const canWrite = atLeast(ctx.role, "member");
  const enabled = latest.workflow_status === "active";
  const toggle = async () => {
    setBusy(true);
    setActionError(null);
    try {
      await ctx.api.put(`/workflows/${encodeURIComponent(id)}`, {
        workflow_status: enabled ? "disabled" : "active",
      });
      setVersion(null);
      reload();
    } catch (err) {
      setActionError(err);
    }
    setBusy(false);
  };
  const versions = [];
  for (let v = latest.latest_version; v >= 1; v -= 1) versions.push(v);
  const older = shown.version !== latest.version;
  const target = older
    ? `/r/workflows/slug/${encodeURIComponent(latest.workflow_slug + "@" + shown.version)}/run`
    : `/r/workflows/${encodeURIComponent(id)}/run`;
  const actions = html`
    <a class="button" href=${"#/tasks?workflow_slug=" + encodeURIComponent(latest.workflow_slug)}>Tasks</a>
    ${canWrite
      ? html`<button type="button" onClick=${toggle} disabled=${busy}>${enabled ? "Disable" : "Enable"}</button>`
      : null}`;
  return html`<${Page} title=${latest.display_name || latest.workflow_slug} actions=${actions}>
    <${ErrorBox} error=${actionError || shownError} />
    <dl class="facts">
      <dt>Slug</dt><dd><code>${latest.workflow_slug}</code></dd>
      <dt>Status</dt><dd><span class=${"badge badge-" + latest.workflow_status}>${latest.workflow_status}</span></dd>
      <dt>Type</dt><dd>${latest.tool_type}</dd>
      <dt>Required labels</dt>
      <dd>${latest.required_labels.length ? latest.required_labels.map((l) => html`<span class="tag">${l}</span> `) : "none"}</dd>
      <dt>Timeout</dt><dd>${latest.task_timeout} s, ${latest.max_retries} retries</dd>
      <dt>Updated</dt><dd>${when(latest.updated_at)}</dd>
    </dl>
    ${latest.description ? html`<p>${latest.description}</p>` : null}
    <div class="field inline">
      <label for="version">Version</label>
      <select id="version" value=${String(shown.version)} onChange=${(e) => setVersion(Number(e.target.value))}>
        ${versions.map((v) => html`<option value=${String(v)}>v${v}${v === latest.version ? " (latest)" : ""}</option>`)}
      </select>
    </div>
    <h2>Parameters</h2>
    <${ParameterTable} params=${shown.parameters} />
    <h2>Run</h2>
    ${!canWrite
      ? html`<p>Viewers cannot start runs.</p>`
      : !enabled
        ? html`<p>This workflow is disabled: enable it to run it.</p>`
        : html`<${AgentsWarning} ctx=${ctx} labels=${shown.required_labels} toolType=${shown.tool_type} />
          ${again ? html`<p class="notice" id="rerun-note">Prefilled from task <code>${again.id}</code>.</p>` : null}
          <${RunForm} key=${shown.version + (again ? again.id : "")} ctx=${ctx} workflow=${shown}
            target=${target} prefill=${again ? again.parameters : null} />`}
    <${Snippets} workflow=${shown} />
  <//>`;
}
