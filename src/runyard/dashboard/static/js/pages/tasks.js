// The team's tasks, newest first, filtered by status, workflow and creation time (the filters
// live in the URL, so a filtered view can be bookmarked). Refreshed every few seconds.
import { html, useEffect } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { ErrorBox, Page, Pager, StatusBadge, shortId, useLoad, when } from "../ui.js";
import { navigate, parseRoute } from "../router.js";

const STATUSES = ["pending", "waiting", "queued", "running", "completed", "failed", "cancelled"];
const FILTERS = ["task_status", "workflow_slug", "created_after", "created_before", "current_page"];

// <input type="datetime-local"> speaks local time without a zone; the API wants UTC.
function toUtc(local) {
  if (!local) return "";
  const date = new Date(local);
  return Number.isNaN(date.getTime()) ? "" : date.toISOString();
}

export function TasksPage({ ctx, params }) {
  const filters = {};
  for (const name of FILTERS) filters[name] = params.get(name) || "";
  const key = JSON.stringify(filters);
  const [data, error, reload] = useLoad(
    () =>
      ctx.api.get(
        "/r/tasks" +
          query({
            task_status: filters.task_status,
            workflow_slug: filters.workflow_slug,
            created_after: toUtc(filters.created_after),
            created_before: toUtc(filters.created_before),
            current_page: filters.current_page,
            per_page: 25,
          }),
      ),
    [key],
  );
  const [workflows] = useLoad(() => ctx.api.get("/r/workflows?per_page=100"), []);
  useEffect(() => {
    const timer = setInterval(reload, 4000);
    return () => clearInterval(timer);
  }, [reload]);

  // The filters are read from the URL when the change happens, not from this render: a change
  // made right after "Clear filters" (before the page re-renders) must not bring old ones back.
  const set = (name, value) => {
    const now = (parseRoute(window.location.hash) || { params: new URLSearchParams() }).params;
    const current = Object.fromEntries(FILTERS.map((f) => [f, now.get(f) || ""]));
    const next = { ...current, [name]: value, current_page: name === "current_page" ? value : "" };
    const clean = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== "" && v !== null));
    navigate("/tasks", clean);
  };
  const find = (e) => {
    e.preventDefault();
    const wanted = new FormData(e.target).get("task_id").trim();
    if (wanted) navigate("/tasks/" + encodeURIComponent(wanted));
  };
  return html`<${Page} title="Tasks">
    <form class="filters" role="search" aria-label="Find a task" onSubmit=${find}>
      <div class="field"><label for="find-task">Task id</label>
        <input id="find-task" name="task_id" placeholder="0193…" autocomplete="off" /></div>
      <button type="submit">Open</button>
    </form>
    <form class="filters" aria-label="Filter tasks" onSubmit=${(e) => e.preventDefault()}>
      <div class="field"><label for="f-status">Status</label>
        <select id="f-status" value=${filters.task_status} onChange=${(e) => set("task_status", e.target.value)}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select></div>
      <div class="field"><label for="f-workflow">Workflow</label>
        <select id="f-workflow" value=${filters.workflow_slug} onChange=${(e) => set("workflow_slug", e.target.value)}>
          <option value="">any</option>
          ${(workflows ? workflows.workflow_list : []).map(
            (w) => html`<option value=${w.workflow_slug}>${w.workflow_slug}</option>`,
          )}
          ${filters.workflow_slug && !(workflows && workflows.workflow_list.some((w) => w.workflow_slug === filters.workflow_slug))
            ? html`<option value=${filters.workflow_slug}>${filters.workflow_slug}</option>`
            : null}
        </select></div>
      <div class="field"><label for="f-after">Created after</label>
        <input id="f-after" type="datetime-local" value=${filters.created_after}
          onChange=${(e) => set("created_after", e.target.value)} /></div>
      <div class="field"><label for="f-before">Created before</label>
        <input id="f-before" type="datetime-local" value=${filters.created_before}
          onChange=${(e) => set("created_before", e.target.value)} /></div>
      <button type="button" onClick=${() => navigate("/tasks")}>Clear filters</button>
    </form>
    <${ErrorBox} error=${error} />
    ${data
      ? data.task_list.length
        ? html`<div class="table-wrap"><table class="tasks">
            <caption class="sr-only">Tasks</caption>
            <thead><tr><th scope="col">Task</th><th scope="col">Workflow</th><th scope="col">Status</th>
              <th scope="col">Progress</th><th scope="col">Created</th><th scope="col">Agent</th></tr></thead>
            <tbody>
              ${data.task_list.map(
                (t) => html`<tr>
                  <td><a href=${"#/tasks/" + t.id} aria-label=${"Task " + t.id}><code>…${shortId(t.id)}</code></a></td>
                  <td>${t.workflow_slug} <span class="muted">v${t.workflow_version}</span></td>
                  <td><${StatusBadge} status=${t.task_status} />
                    ${t.task_error_code ? html` <code>${t.task_error_code}</code>` : null}</td>
                  <td><progress max="1" value=${t.progress} aria-label="Progress"></progress></td>
                  <td>${when(t.created_at)}</td>
                  <td>${t.agent_id || "—"}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>
          <${Pager} meta=${data.page_meta} onPage=${(n) => set("current_page", String(n))} />`
        : html`<p>No tasks match.</p>`
      : error
        ? null
        : html`<p role="status">Loading…</p>`}
  <//>`;
}
