// One task, live: status and progress from the event stream (fetch + Last-Event-ID resume),
// the running node, messages, the console log of a deployed Python task, the error (and the
// node it happened in), cancel, and outputs.
import { html, useEffect, useState } from "../../vendor/preact-htm.js";
import { followTask } from "../sse.js";
import { ErrorBox, Page, StatusBadge, atLeast, useLoad, when } from "../ui.js";
import { Outputs } from "./outputs.js";
import { LivePreview } from "./preview.js";
import { href } from "../router.js";

const TERMINAL = new Set(["completed", "failed", "cancelled"]);
const MAX_MESSAGES = 200;
const MAX_LOG_LINES = 2000; // the panel keeps the latest; the whole log is at /r/tasks/{id}/logs

// The lines of one `log` event, its gaps marked as `GET /r/tasks/{id}/logs` marks them.
function logLines(data) {
  const lines = [];
  if (data.dropped) lines.push({ stream: "note", line: `… ${data.dropped} line(s) dropped (too many too fast) …` });
  for (const item of data.lines || []) lines.push(item);
  if (data.truncated) lines.push({ stream: "note", line: "… log truncated: the task printed more than its log keeps" });
  return lines;
}

const LOG_LABEL = `Task log (the latest ${MAX_LOG_LINES} lines)`;

function LogPanel({ lines }) {
  return html`<section class="log-panel" aria-labelledby="log-title">
    <h2 id="log-title">Log</h2>
    <pre class="log" id="task-log" tabindex="0" aria-label=${LOG_LABEL}>${lines.map(
      (l) => html`<span class=${"log-" + l.stream}>${l.line + "\n"}</span>`)}</pre>
  </section>`;
}
const WAITING = new Set(["pending", "waiting"]);

function useLive(ctx, id, initial) {
  const fresh = () => ({ connection: "idle", status: null, progress: null, node: null,
    step: null, messages: [], log: [], error: null, ended: false, previews: 0 });
  const [live, setLive] = useState(fresh);
  useEffect(() => {
    setLive(fresh()); // another task opened in the same page starts from nothing
    if (!initial) return undefined;
    // A finished task's stream replays its events (messages, the last node) and ends.
    const replayOnly = TERMINAL.has(initial.task_status);
    const controller = new AbortController();
    const onEvent = ({ event, data }) =>
      setLive((old) => {
        const next = { ...old };
        if (data && data.task_status) next.status = data.task_status;
        if (event === "progress") {
          next.progress = data.progress;
          if (data.current_node) next.node = data.current_node;
          if (data.step_total) next.step = `${data.step_current} / ${data.step_total}`;
          if (data.message) {
            next.messages = [...old.messages, { at: data.timestamp, text: data.message, node: data.current_node }]
              .slice(-MAX_MESSAGES);
          }
        }
        if (event === "preview") next.previews = old.previews + 1;
        if (event === "log") next.log = [...old.log, ...logLines(data)].slice(-MAX_LOG_LINES);
        if (event === "failed") next.error = { message: data.task_error, code: data.task_error_code };
        if (TERMINAL.has(event)) next.ended = true;
        return next;
      });
    const onState = (connection, error) =>
      setLive((old) => ({ ...old, connection, streamError: error || null }));
    followTask(ctx.api, id, { onEvent, onState, signal: controller.signal, replayOnly });
    return () => controller.abort();
  }, [id, initial && initial.id]);
  return live;
}

export function TaskPage({ ctx, id }) {
  const [task, error, reload] = useLoad(() => ctx.api.get(`/r/tasks/${encodeURIComponent(id)}`), [id]);
  const live = useLive(ctx, id, task);
  const [cancelError, setCancelError] = useState(null);
  const [cancelling, setCancelling] = useState(false);
  useEffect(() => {
    if (live.ended && task && !TERMINAL.has(task.task_status)) reload();
  }, [live.ended]);
  // While no agent has it, the reason is read again (it changes as agents come and go).
  const waiting = task && WAITING.has(live.status || task.task_status);
  useEffect(() => {
    if (!waiting) return undefined;
    const timer = setInterval(reload, 3000);
    return () => clearInterval(timer);
  }, [waiting, reload]);

  if (error) return html`<${Page} title="Task"><${ErrorBox} error=${error} /><//>`;
  if (!task) return html`<p role="status">Loading…</p>`;

  const status = TERMINAL.has(task.task_status) ? task.task_status : live.status || task.task_status;
  const progress = TERMINAL.has(status) && status === "completed" ? 1 : live.progress ?? task.progress;
  const failure = live.error || (task.task_error ? { message: task.task_error, code: task.task_error_code } : null);
  const cancel = async () => {
    if (!window.confirm(`Cancel this task (${task.workflow_slug})? Its work so far is lost.`)) return;
    setCancelling(true);
    setCancelError(null);
    try {
      await ctx.api.post(`/r/tasks/${encodeURIComponent(id)}/cancel`);
      reload();
    } catch (err) {
      setCancelError(err);
    }
    setCancelling(false);
  };
  const canCancel = atLeast(ctx.role, "member") && !TERMINAL.has(status);
  const again = href("/workflows/" + task.workflow_id, { version: task.workflow_version, rerun: task.id });
  const actions = html`
    ${atLeast(ctx.role, "member") ? html`<a class="button" href=${again}>Run again</a>` : null}
    ${canCancel
      ? html`<button type="button" class="danger" disabled=${cancelling} onClick=${cancel}>
          ${cancelling ? "Cancelling…" : "Cancel task"}</button>`
      : null}`;
  return html`<${Page} title=${"Task " + task.workflow_slug} actions=${actions}>
    <${ErrorBox} error=${cancelError} />
    <div class="live" aria-live="polite">
      <p class="status-line">
        <span>Status: <${StatusBadge} status=${status} /></span>
        ${!TERMINAL.has(status)
          ? html`<span class="muted connection">Live updates: ${live.connection}</span>`
          : null}
      </p>
      <div class="progress big">
        <progress max="1" value=${progress} aria-label="Task progress"></progress>
        <span>${Math.round((progress || 0) * 100)}%${live.step ? ` · step ${live.step}` : ""}</span>
      </div>
      ${live.node && !TERMINAL.has(status)
        ? html`<p>Running node: <code class="node">${live.node}</code></p>`
        : null}
      ${live.previews && !TERMINAL.has(status) && !live.ended
        ? html`<${LivePreview} ctx=${ctx} id=${id} seq=${live.previews} />`
        : null}
    </div>
    ${live.streamError ? html`<${ErrorBox} error=${live.streamError} />` : null}
    ${WAITING.has(status) && task.waiting_reason
      ? html`<div class="card waiting-reason" role="status" id="waiting-reason">
          <strong>Why it waits:</strong> ${task.waiting_reason.message}
          ${" "}<code>${task.waiting_reason.code}</code>
          ${" "}<a href="#/agents">See the agents</a>
        </div>`
      : null}
    ${status === "failed" && failure
      ? html`<div class="error" role="alert"><strong>Failed${live.node ? html` at node <code>${live.node}</code>` : ""}:</strong>
          ${" " + failure.message} ${failure.code ? html`<code>${failure.code}</code>` : null}</div>`
      : null}
    <dl class="facts">
      <dt>Task id</dt><dd><code>${task.id}</code></dd>
      <dt>Workflow</dt><dd><a href=${"#/workflows/" + task.workflow_id}>${task.workflow_slug}</a> v${task.workflow_version}</dd>
      <dt>Agent</dt><dd>${task.agent_id || "—"}</dd>
      <dt>Retries</dt><dd>${task.retry_count}</dd>
      <dt>Priority</dt><dd>${task.priority ?? 0}</dd>
      <dt>Created</dt><dd>${when(task.created_at)}</dd>
      <dt>Started</dt><dd>${when(task.started_at)}</dd>
      <dt>Finished</dt><dd>${when(task.completed_at)}</dd>
    </dl>
    <h2>Inputs</h2>
    <dl class="facts inputs">
      ${Object.entries(task.parameters).map(([key, value]) => html`<dt><code>${key}</code></dt>
        <dd>${typeof value === "string" && value.startsWith("inputs/")
          ? html`file <strong>${value.split("/").pop()}</strong> <span class="muted">(${value})</span>`
          : typeof value === "string" ? value : JSON.stringify(value)}</dd>`)}
    </dl>
    ${status === "completed" ? html`<${Outputs} ctx=${ctx} id=${id} />` : null}
    ${live.log.length ? html`<${LogPanel} lines=${live.log} />` : null}
    ${live.messages.length
      ? html`<h2>Messages</h2>
          <ol class="messages" tabindex="0" aria-label="Messages (the latest ${MAX_MESSAGES})">
            ${live.messages.map((m) => html`<li><time>${when(m.at)}</time> ${m.node ? html`<code>${m.node}</code> ` : null}${m.text}</li>`)}
          </ol>`
      : null}
  <//>`;
}
