// The team's agents: status, labels, capacity, running tasks, the sync of the team's model
// library, and what each reports about its machine (runtimes such as ComfyUI and their
// versions, devices, memory, VRAM).
import { html, useEffect } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { ErrorBox, Page, bytes, useLoad, when } from "../ui.js";

const BYTE_KEYS = /ram_|vram|memory|bytes/i;

function Value({ name, value }) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "number" && BYTE_KEYS.test(name) && value > 1024) return bytes(value);
  if (Array.isArray(value)) {
    return html`<ul class="plain">${value.map((v, i) => html`<li><${Value} name=${name} value=${v} key=${i} /></li>`)}</ul>`;
  }
  if (typeof value === "object") return html`<${Info} info=${value} />`;
  return String(value);
}

function Info({ info }) {
  const entries = Object.entries(info || {});
  if (!entries.length) return html`<span class="muted">nothing reported</span>`;
  return html`<dl class="facts small">
    ${entries.map(([k, v]) => html`<dt>${k}</dt><dd><${Value} name=${k} value=${v} /></dd>`)}
  </dl>`;
}

function Runtimes({ runtimes }) {
  return html`<ul class="plain">
    ${Object.entries(runtimes || {}).map(
      ([name, r]) => html`<li>
        <span class=${"badge " + (r.healthy ? "badge-completed" : "badge-failed")}>${name}: ${r.healthy ? "healthy" : "unhealthy"}</span>
        ${r.version || r.comfyui_version ? html` <span>version ${r.version || r.comfyui_version}</span>` : null}
        ${r.detail ? html`<div class="muted">${r.detail}</div>` : null}
        ${(r.devices || []).map(
          (d) => html`<div>Device: ${d.name || "?"} (${d.type || "?"})${d.vram_total
            ? html` · VRAM ${bytes(d.vram_free)} free of ${bytes(d.vram_total)}`
            : null}</div>`,
        )}
      </li>`,
    )}
  </ul>`;
}

const SYNC_BADGE = { idle: "badge-completed", syncing: "badge-running", failed: "badge-failed" };

function LibrarySync({ agent }) {
  if (!agent.sync_phase) return null;
  const held = agent.synced_models.length;
  return html`<div class="library-sync">
    <h3>Model library</h3>
    <p>
      <span class=${"badge " + SYNC_BADGE[agent.sync_phase]}>${agent.sync_phase}</span>
      ${" "}${held} model${held === 1 ? "" : "s"} held
      ${agent.sync_phase === "syncing" && agent.sync_percent !== null
        ? html` · <progress max="100" value=${agent.sync_percent}></progress> ${Math.floor(agent.sync_percent)}%`
        : null}
    </p>
    ${agent.sync_detail ? html`<p class="muted sync-detail">${agent.sync_detail}</p>` : null}
  </div>`;
}

export function AgentsPage({ ctx }) {
  const [data, error, reload] = useLoad(() => ctx.api.get("/r/agents" + query({ per_page: 100 })), []);
  useEffect(() => {
    const timer = setInterval(reload, 5000);
    return () => clearInterval(timer);
  }, [reload]);
  return html`<${Page} title="Agents">
    <${ErrorBox} error=${error} />
    ${data && !data.agent_list.length
      ? html`<p>No agents yet. Start one with <code>runyard agent --key ak-…</code>.</p>`
      : null}
    <ul class="agents">
      ${(data ? data.agent_list : []).map((a) => {
        const { runtimes, library_sync: _sync, ...machine } = a.system_info || {};
        return html`<li class="card agent">
          <h2><a href=${"#/agents/" + encodeURIComponent(a.agent_id)}>${a.agent_id}</a></h2>
          <p>
            <span class=${"badge badge-" + a.agent_status}>${a.agent_status}</span>
            ${" "}${a.connected ? "connected" : "not connected"} ·
            running ${a.running_tasks} of ${a.capacity} · version ${a.agent_version}
          </p>
          <p>Labels: ${a.agent_labels.map((l) => html`<span class="tag">${l}</span> `)}</p>
          <p class="muted">Last heartbeat ${when(a.last_heartbeat)} · connected since ${when(a.connected_at)}</p>
          ${runtimes ? html`<h3>Runtimes</h3><${Runtimes} runtimes=${runtimes} />` : null}
          <${LibrarySync} agent=${a} />
          <details>
            <summary>System information</summary>
            <${Info} info=${machine} />
            ${runtimes
              ? Object.entries(runtimes).map(([name, r]) => html`<h4>${name}</h4><${Info} info=${r} />`)
              : null}
          </details>
        </li>`;
      })}
    </ul>
  <//>`;
}
