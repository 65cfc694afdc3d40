// The shell: sign-in gate, navigation, team switcher, sign out, and the page for the route.
import { html, useEffect, useState } from "../vendor/preact-htm.js";
import { ErrorBox, atLeast } from "./ui.js";
import { useRoute, href } from "./router.js";
import { Login } from "./pages/login.js";
import { WorkflowsPage } from "./pages/workflows.js";
import { WorkflowPage } from "./pages/workflow.js";
import { ImportPage } from "./pages/import.js";
import { TasksPage } from "./pages/tasks.js";
import { TaskPage } from "./pages/task.js";
import { AgentPage } from "./pages/agent.js";
import { AgentsPage } from "./pages/agents.js";
import { ModelsPage } from "./pages/models.js";
import { CredentialsPage } from "./pages/credentials.js";
import { MembersPage } from "./pages/members.js";
import { WebhooksPage } from "./pages/webhooks.js";
import { PairPage } from "./pages/pair.js";
import { NoTeamPage, TeamPage } from "./pages/team.js";
import { AccountPage } from "./pages/account.js";
import { AcceptPage } from "./pages/accept.js";

const NAV = [
  ["workflows", "Workflows", "viewer"],
  ["tasks", "Tasks", "viewer"],
  ["agents", "Agents", "viewer"],
  ["models", "Models", "viewer"],
  ["credentials", "Credentials", "admin"],
  ["members", "Members", "admin"],
  ["team", "Team", "viewer"],
  ["webhooks", "Webhooks", "admin"],
];

function needsAdmin() {
  return html`<p role="status">
    This page is for the team's admins and owner.${" "}<a href="#/workflows">Go to the workflows</a>.
  </p>`;
}

function pageFor(route, ctx) {
  const [first, second] = route.parts;
  const props = { ctx, params: route.params };
  if (!ctx.team && !["account", "accept", "pair"].includes(first)) {
    return html`<${NoTeamPage} ...${props} />`;
  }
  switch (first) {
    case undefined:
    case "workflows":
      if (second === "import") return html`<${ImportPage} ...${props} />`;
      if (second) return html`<${WorkflowPage} ...${props} id=${second} />`;
      return html`<${WorkflowsPage} ...${props} />`;
    case "tasks":
      if (second) return html`<${TaskPage} ...${props} id=${second} />`;
      return html`<${TasksPage} ...${props} />`;
    case "agents":
      if (second) return html`<${AgentPage} ...${props} id=${second} />`;
      return html`<${AgentsPage} ...${props} />`;
    case "models":
      return html`<${ModelsPage} ...${props} />`;
    case "credentials":
      if (!atLeast(ctx.role, "admin")) return needsAdmin();
      return html`<${CredentialsPage} ...${props} />`;
    case "members":
      if (!atLeast(ctx.role, "admin")) return needsAdmin();
      return html`<${MembersPage} ...${props} />`;
    case "webhooks":
      if (!atLeast(ctx.role, "admin")) return needsAdmin();
      return html`<${WebhooksPage} ...${props} />`;
    case "pair":
      return html`<${PairPage} ...${props} />`;
    case "team":
      return html`<${TeamPage} ...${props} />`;
    case "account":
      return html`<${AccountPage} ...${props} />`;
    case "accept":
      return html`<${AcceptPage} api=${ctx.api} me=${ctx.me} params=${route.params} />`;
    default:
      return html`<p>No such page. <a href="#/workflows">Go to the workflows</a>.</p>`;
  }
}

export function App({ api }) {
  const [signedIn, setSignedIn] = useState(api.signedIn);
  const [me, setMe] = useState(null);
  const [error, setError] = useState(null);
  const [team, setTeam] = useState(api.team);
  const route = useRoute();

  useEffect(() => api.onChange(() => setSignedIn(api.signedIn)), [api]);

  useEffect(() => {
    if (!signedIn) {
      setMe(null);
      return;
    }
    api.get("/users/me").then(
      (user) => {
        const known = user.teams.find((t) => t.id === api.team);
        const chosen = known ? known.id : user.teams.length ? user.teams[0].id : null;
        api.setTeam(chosen);
        setTeam(chosen);
        setMe(user);
        setError(null);
      },
      (err) => setError(err),
    );
  }, [signedIn]);

  if (!signedIn && route.parts[0] === "accept") {
    return html`<${AcceptPage} api=${api} me=${null} params=${route.params} />`;
  }
  if (!signedIn) return html`<${Login} api=${api} />`;
  if (error) return html`<main id="main" class="narrow"><${ErrorBox} error=${error} />
    <button type="button" onClick=${() => api.logout()}>Sign out</button></main>`;
  if (!me) return html`<p class="boot" role="status">Loading…</p>`;

  const membership = me.teams.find((t) => t.id === team) || { role: "viewer" };
  const ctx = { api, me, team, role: membership.role };
  const signOut = () => {
    window.location.hash = "#/"; // the next person to sign in here starts from the top
    return api.logout();
  };
  const switchTeam = (e) => {
    api.setTeam(e.target.value);
    setTeam(e.target.value);
  };
  const current = route.parts[0] || "workflows";
  return html`<div class="shell">
    <header class="top">
      <a class="brand" href="#/workflows">Runyard</a>
      <nav aria-label="Main">
        <ul>
          ${NAV.filter(([, , role]) => atLeast(ctx.role, role)).map(
            ([path, label]) => html`<li>
              <a href=${href("/" + path)} aria-current=${current === path ? "page" : null}>${label}</a>
            </li>`,
          )}
        </ul>
      </nav>
      <div class="who">
        <label for="team-switch">Team</label>
        <select id="team-switch" value=${team} onChange=${switchTeam}>
          ${me.teams.map((t) => html`<option value=${t.id}>${t.display_name} (${t.role})</option>`)}
        </select>
        <a class="email" href="#/account" aria-label="Your account">${me.email_address}</a>
        <button type="button" onClick=${signOut}>Sign out</button>
      </div>
    </header>
    <main id="main" key=${team}>${pageFor(route, ctx)}</main>
  </div>`;
}
