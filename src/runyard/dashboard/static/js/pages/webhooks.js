// Webhooks (admins): add a receiver (its signing secret is shown once), send a test event and
// see the receiver's answer, enable/disable, rotate the secret, delete, and read each
// webhook's delivery log with redelivery.
import { html, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { CopyButton, ErrorBox, Page, Pager, useLoad, when } from "../ui.js";

const EVENTS = ["task.completed", "task.failed", "task.cancelled"];

function AddForm({ ctx, onCreated }) {
  const [url, setUrl] = useState("");
  const [name, setName] = useState("");
  const [events, setEvents] = useState(EVENTS);
  const [error, setError] = useState(null);
  const toggle = (event) =>
    setEvents(events.includes(event) ? events.filter((e) => e !== event) : [...events, event]);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { display_name: name, webhook_url: url, webhook_events: events };
      onCreated(await ctx.api.post("/webhooks", body), name || url);
      setUrl("");
      setName("");
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="new-hook">
    <h2 id="new-hook">New webhook</h2>
    <div class="field"><label for="hook-url">URL</label>
      <input id="hook-url" type="url" required maxlength="2048" placeholder="https://example.com/runyard"
        value=${url} onInput=${(e) => setUrl(e.target.value)} /></div>
    <div class="field"><label for="hook-name">Name</label>
      <input id="hook-name" maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    <fieldset class="field"><legend>Events</legend>
      ${EVENTS.map(
        (event) => html`<label class="check"><input type="checkbox" checked=${events.includes(event)}
          onChange=${() => toggle(event)} /> ${event}</label>`,
      )}
    </fieldset>
    <button type="submit" class="primary" disabled=${!events.length}>Add</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Secret({ shown, onDone }) {
  return html`<div class="card secret" role="alert">
    <h2>Copy the signing secret now</h2>
    <p>This is the only time the secret of <strong>${shown.label}</strong> is shown; verify each
      delivery's signature with it (see docs/webhooks.md).</p>
    <p><code class="raw-key" id="webhook-secret">${shown.webhook_secret}</code></p>
    <${CopyButton} text=${shown.webhook_secret} label="Copy secret" />
    <button type="button" onClick=${onDone}>Done</button>
  </div>`;
}

function TestResult({ result }) {
  if (!result) return null;
  const answer = result.status_code ? `HTTP ${result.status_code}` : "no answer";
  const verdict = result.delivered ? "Test event delivered" : "Test event not delivered";
  const why = result.error ? ` (${result.error})` : "";
  return html`<p class=${result.delivered ? "notice" : "error"} role="status" id="test-result">
    ${`${verdict}: ${answer} in ${result.latency_ms} ms${why}.`}
  </p>`;
}

function Deliveries({ ctx, hook, onError }) {
  const [page, setPage] = useState(1);
  const [data, error, reload] = useLoad(
    () => ctx.api.get(`/webhooks/${encodeURIComponent(hook.id)}/deliveries` + query({ current_page: page, per_page: 20 })),
    [hook.id, page],
  );
  const redeliver = async (d) => {
    try {
      await ctx.api.post(`/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`, {});
      reload();
    } catch (err) {
      onError(err);
    }
  };
  return html`<section class="card" aria-labelledby="log-title">
    <h2 id="log-title">Deliveries to ${hook.display_name || hook.webhook_url}</h2>
    <${ErrorBox} error=${error} />
    ${data && !data.deliveries.length ? html`<p>No deliveries yet: one is made when a task ends.</p>` : null}
    ${data && data.deliveries.length
      ? html`<div class="table-wrap"><table>
          <thead><tr><th scope="col">Event</th><th scope="col">Task</th><th scope="col">Status</th>
            <th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Next attempt</th>
            <th scope="col"></th></tr></thead>
          <tbody>
            ${data.deliveries.map(
              (d) => html`<tr>
                <td>${d.event_type}</td>
                <td><a href=${"#/tasks/" + encodeURIComponent(d.task_id)}><code>${d.task_id.slice(-8)}</code></a></td>
                <td><span class=${"badge badge-" + (d.delivery_status === "succeeded" ? "completed" : d.delivery_status)}>${d.delivery_status}</span></td>
                <td>${d.attempt_count}</td>
                <td>${d.last_error || d.last_status_code || "—"}</td>
                <td>${when(d.next_attempt_at)}</td>
                <td><button type="button" onClick=${() => redeliver(d)}>Redeliver</button></td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} meta=${data.page_meta} onPage=${setPage} />`
      : null}
  </section>`;
}

export function WebhooksPage({ ctx }) {
  const [page, setPage] = useState(1);
  const [shown, setShown] = useState(null);
  const [tested, setTested] = useState(null);
  const [open, setOpen] = useState(null);
  const [actionError, setActionError] = useState(null);
  const [data, error, reload] = useLoad(
    () => ctx.api.get("/webhooks" + query({ current_page: page, per_page: 50 })),
    [page],
  );
  const act = async (fn) => {
    setActionError(null);
    try {
      await fn();
    } catch (err) {
      setActionError(err);
    }
  };
  const path = (h) => `/webhooks/${encodeURIComponent(h.id)}`;
  const test = (h) => act(async () => {
    setTested(null);
    setTested(await ctx.api.post(path(h) + "/test", {}));
  });
  const toggle = (h) => act(async () => {
    await ctx.api.put(path(h), { is_enabled: !h.is_enabled });
    reload();
  });
  const rotate = (h) => act(async () => {
    if (!window.confirm(`Rotate the secret of ${h.display_name || h.webhook_url}? The old one stops at once.`)) return;
    const rotated = await ctx.api.post(path(h) + "/rotate-secret", {});
    setShown({ ...rotated, label: h.display_name || h.webhook_url });
  });
  const remove = (h) => act(async () => {
    if (!window.confirm(`Delete ${h.display_name || h.webhook_url} and its delivery log?`)) return;
    await ctx.api.del(path(h));
    if (open && open.id === h.id) setOpen(null);
    reload();
  });
  return html`<${Page} title="Webhooks">
    <p class="hint">Runyard POSTs a signed event to each URL when a task completes, fails or is
      cancelled. Test a webhook to check its URL and your signature check before the first task ends.</p>
    ${shown
      ? html`<${Secret} shown=${shown} onDone=${() => setShown(null)} />`
      : html`<${AddForm} ctx=${ctx} onCreated=${(c, label) => { setShown({ ...c, label }); reload(); }} />`}
    <${ErrorBox} error=${error || actionError} />
    <${TestResult} result=${tested} />
    ${data && !data.webhooks.length ? html`<p>No webhooks yet.</p>` : null}
    ${data && data.webhooks.length
      ? html`<div class="table-wrap"><table>
          <caption class="sr-only">Webhooks</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Events</th>
            <th scope="col">State</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
          <tbody>
            ${data.webhooks.map(
              (h) => html`<tr>
                <td>${h.display_name || "—"}</td><td><code>${h.webhook_url}</code></td>
                <td>${h.webhook_events.join(", ")}</td>
                <td>${h.is_enabled
                  ? html`<span class="badge badge-completed">enabled</span>`
                  : html`<span class="badge badge-cancelled" title=${h.disabled_reason || ""}>disabled</span>
                      ${h.disabled_reason ? html`<br /><small>${h.disabled_reason}</small>` : null}`}</td>
                <td>${when(h.created_at)}</td>
                <td class="actions">
                  <button type="button" onClick=${() => test(h)}>Send test</button>
                  <button type="button" onClick=${() => setOpen(h)}>Deliveries</button>
                  <button type="button" onClick=${() => toggle(h)}>${h.is_enabled ? "Disable" : "Enable"}</button>
                  <button type="button" onClick=${() => rotate(h)}>Rotate secret</button>
                  <button type="button" class="danger" onClick=${() => remove(h)}>Delete</button>
                </td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} meta=${data.page_meta} onPage=${setPage} />`
      : null}
    ${open ? html`<${Deliveries} key=${open.id} ctx=${ctx} hook=${open} onError=${setActionError} />` : null}
  <//>`;
}
