// Team settings: rename (admins), hand over ownership and delete with the typed name (owner),
// leave (everyone but the owner).
import { html, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page, atLeast, useLoad } from "../ui.js";

// After the team changed under us (left, deleted, handed over), start the shell again.
function restart(api, teamId) {
  api.setTeam(teamId);
  window.location.hash = "#/workflows";
  window.location.reload();
}

function Rename({ ctx, current }) {
  const [name, setName] = useState(current.display_name);
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await ctx.api.put(`/teams/${encodeURIComponent(ctx.team)}`, { display_name: name.trim() });
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="rename-title">
    <h2 id="rename-title">Name</h2>
    <div class="field"><label for="team-name">Team name</label>
      <input id="team-name" required maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    <button type="submit" class="primary">Rename</button>
    ${saved ? html`<p role="status">Renamed.</p>` : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

function Transfer({ ctx }) {
  const base = `/teams/${encodeURIComponent(ctx.team)}`;
  const [data, loadError] = useLoad(() => ctx.api.get(base + "/members?per_page=100"), []);
  const [to, setTo] = useState("");
  const [error, setError] = useState(null);
  const others = data ? data.members.filter((m) => m.user_id !== ctx.me.id) : [];
  const submit = async (e) => {
    e.preventDefault();
    const member = others.find((m) => m.user_id === to);
    if (!member || !window.confirm(`Make ${member.email_address} the owner? You become an admin.`)) return;
    setError(null);
    try {
      await ctx.api.post(`${base}/transfer-ownership`, { user_id: to });
      restart(ctx.api, ctx.team);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="transfer-title">
    <h2 id="transfer-title">Hand over ownership</h2>
    <p class="muted">The new owner gets everything; you become an admin.</p>
    <div class="field"><label for="transfer-to">New owner</label>
      <select id="transfer-to" required value=${to} onChange=${(e) => setTo(e.target.value)}>
        <option value="">Choose a member…</option>
        ${others.map((m) => html`<option value=${m.user_id}>${m.display_name || m.email_address} (${m.role})</option>`)}
      </select></div>
    <button type="submit" disabled=${!to}>Transfer</button>
    <${ErrorBox} error=${loadError || error} />
  </form>`;
}

function Delete({ ctx, current }) {
  const [typed, setTyped] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await ctx.api.request("DELETE", `/teams/${encodeURIComponent(ctx.team)}`, { team_name: typed });
      restart(ctx.api, null);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<form class="card danger-zone" onSubmit=${submit} aria-labelledby="delete-title">
    <h2 id="delete-title">Delete this team</h2>
    <p>Everything goes: unfinished tasks are cancelled, keys stop working, agents are disconnected,
      and workflows, files and outputs are removed. This cannot be undone.</p>
    <div class="field"><label for="delete-confirm">Type <strong>${current.display_name}</strong> to confirm</label>
      <input id="delete-confirm" autocomplete="off" value=${typed} onInput=${(e) => setTyped(e.target.value)} /></div>
    <button type="submit" class="danger" disabled=${busy || typed !== current.display_name}>Delete the team</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Leave({ ctx, current }) {
  const [error, setError] = useState(null);
  const leave = async () => {
    if (!window.confirm(`Leave ${current.display_name}?`)) return;
    setError(null);
    try {
      await ctx.api.post(`/teams/${encodeURIComponent(ctx.team)}/leave`);
      restart(ctx.api, null);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" aria-labelledby="leave-title">
    <h2 id="leave-title">Leave this team</h2>
    <p class="muted">You lose access to its workflows and tasks until someone invites you again.</p>
    <button type="button" class="danger" onClick=${leave}>Leave the team</button>
    <${ErrorBox} error=${error} />
  </section>`;
}

export function TeamPage({ ctx }) {
  const current = ctx.me.teams.find((t) => t.id === ctx.team);
  if (!current) return html`<${Page} title="Team"><p>You are in no team yet.</p><//>`;
  const owner = ctx.role === "owner";
  return html`<${Page} title=${"Team: " + current.display_name}>
    <p class="muted">Your role: ${ctx.role}.</p>
    ${atLeast(ctx.role, "admin") ? html`<${Rename} ctx=${ctx} current=${current} />` : null}
    ${owner ? html`<${Transfer} ctx=${ctx} />` : null}
    ${owner ? html`<${Delete} ctx=${ctx} current=${current} />` : html`<${Leave} ctx=${ctx} current=${current} />`}
  <//>`;
}

// Signed in but in no team (all left or deleted, or a fresh sign-up): create one.
export function NoTeamPage({ ctx }) {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const created = await ctx.api.post("/teams", { display_name: name.trim() });
      restart(ctx.api, created.id);
    } catch (err) {
      setError(err);
    }
  };
  return html`<${Page} title="No team">
    <p>You are in no team yet. Open an invitation link from a team's admin, or create a team.</p>
    <form class="card inline-form" onSubmit=${submit} aria-labelledby="create-team-title">
      <h2 id="create-team-title">Create a team</h2>
      <div class="field"><label for="new-team-name">Team name</label>
        <input id="new-team-name" required maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
      <button type="submit" class="primary">Create</button>
      <${ErrorBox} error=${error} />
    </form>
  <//>`;
}
