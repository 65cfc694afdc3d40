// One agent: its status, and tunnels to its local ports. "Open ComfyUI" opens a tunnel to the
// agent's ComfyUI (the first port it allows) and its one-time link in a new tab: the app runs at
// the tunnel origin, which can read neither this page's tokens nor its storage.
import { html, useEffect, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page, atLeast, bytes, shortId, useLoad, when } from "../ui.js";

export function AgentPage({ ctx, id }) {
  const path = `/agents/${encodeURIComponent(id)}/tunnels`;
  const [agents, agentsError, reloadAgents] = useLoad(() => ctx.api.get("/r/agents?per_page=100"), [id]);
  const [data, error, reload] = useLoad(() => ctx.api.get(path), [id]);
  const [actionError, setActionError] = useState(null);
  const [busy, setBusy] = useState(false);
  const canOpen = atLeast(ctx.role, "member");
  useEffect(() => {
    const timer = setInterval(() => { reload(); reloadAgents(); }, 5000);
    return () => clearInterval(timer);
  }, [reload, reloadAgents]);
  const agent = agents ? agents.agent_list.find((a) => a.agent_id === id) : null;
  const ports = agent ? agent.tunnel_ports || [] : [];

  async function openComfy(exclusive) {
    setActionError(null);
    setBusy(true);
    // Opened now, inside the click, so no popup blocker stops it; pointed at the link later.
    const tab = window.open("about:blank", "_blank");
    try {
      const tunnel = await ctx.api.post(path, { protocol: "http", exclusive });
      if (tab) {
        tab.opener = null;
        tab.location.href = tunnel.url;
      }
      reload();
      reloadAgents();
    } catch (err) {
      if (tab) tab.close();
      setActionError(err);
    } finally {
      setBusy(false);
    }
  }

  async function close(tunnel) {
    setActionError(null);
    try {
      await ctx.api.del(`/tunnels/${encodeURIComponent(tunnel.id)}`);
      reload();
      reloadAgents();
    } catch (err) {
      setActionError(err);
    }
  }

  const actions = canOpen && agent && agent.connected && ports.length
    ? html`<button type="button" disabled=${busy} onClick=${() => openComfy(false)}>Open ComfyUI</button>
        <button type="button" class="secondary" disabled=${busy} onClick=${() => openComfy(true)}
          title="No tasks go to the agent while this tunnel is open">Open ComfyUI (exclusive)</button>`
    : null;
  const tunnels = data ? data.tunnel_list : [];
  return html`<${Page} title=${"Agent " + id} actions=${actions}>
    <p><a href="#/agents">All agents</a></p>
    <${ErrorBox} error=${agentsError || error || actionError} />
    ${agent
      ? html`<p>
          <span class=${"badge badge-" + agent.agent_status}>${agent.agent_status}</span>
          ${" "}${agent.connected ? "connected" : "not connected"}
          · running ${agent.running_tasks} of ${agent.capacity} · tunnel ports ${ports.length ? ports.join(", ") : "none (start it with --tunnel-port)"}
        </p>`
      : agents ? html`<p>No agent ${id} in this team.</p>` : null}
    <h2>Tunnels</h2>
    ${data && !tunnels.length ? html`<p class="muted">No tunnels opened to this agent yet.</p>` : null}
    ${tunnels.length
      ? html`<div class="table-wrap"><table>
          <caption class="sr-only">Tunnels</caption>
          <thead><tr><th scope="col">Tunnel</th><th scope="col">Port</th><th scope="col">Protocol</th>
            <th scope="col">Status</th><th scope="col">Opened</th><th scope="col">Sessions</th>
            <th scope="col">Closes</th>
            <th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            ${tunnels.map((t) => html`<tr key=${t.id}>
              <td><code title=${t.id}>${shortId(t.id)}</code>${t.exclusive ? " (exclusive)" : ""}</td>
              <td>${t.port}</td>
              <td>${t.protocol}</td>
              <td>${t.tunnel_status}${t.close_reason ? html` <span class="muted">(${t.close_reason}${t.closed_by ? ": " + (t.closed_by_email || t.closed_by) : ""})</span>` : null}</td>
              <td>${when(t.created_at)}${t.opened_by ? html` <span class="muted">by ${t.opened_by_email || t.opened_by}</span>` : null}</td>
              <td>${t.sessions_total}${t.last_used_at ? html` <span class="muted">· last ${when(t.last_used_at)} · ${bytes(t.bytes_to_agent)} in, ${bytes(t.bytes_from_agent)} out</span>` : null}</td>
              <td>${t.tunnel_status === "open" ? when(t.expires_at) : when(t.closed_at)}</td>
              <td>${canOpen && t.tunnel_status === "open"
                ? html`<button type="button" class="secondary" onClick=${() => close(t)}
                    aria-label=${"Close tunnel " + shortId(t.id)}>Close tunnel</button>`
                : null}</td>
            </tr>`)}
          </tbody>
        </table></div>`
      : null}
  <//>`;
}
