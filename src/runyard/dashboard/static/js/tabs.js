// One session per browser, shared by its tabs: a new tab asks the open ones for the session
// over a BroadcastChannel (same origin only) instead of showing the sign-in form; a sign-in or
// sign-out in one tab is one in all. Rotations of the shared refresh token happen in one tab
// only, the leader (a Web Lock held while the tab lives), so two tabs never present the same
// refresh token (a second use revokes the login); the others ask it and adopt what it
// broadcasts. Tokens still live in each tab's sessionStorage only. See docs/architecture.md.

const CHANNEL = "runyard.session";
const ASK_WAIT_MS = 400;
const ROTATE_WAIT_MS = 5000;

const LEADER = "runyard.session.leader";

// Whether this tab leads now; if not, it queues for the lead (taken when the leader closes).
function lead(onLead) {
  const hold = () => new Promise(() => {}); // held until the tab closes
  return new Promise((resolve) => {
    navigator.locks.request(LEADER, { ifAvailable: true }, (lock) => {
      resolve(Boolean(lock));
      if (lock) return hold();
      navigator.locks.request(LEADER, () => {
        onLead();
        return hold();
      });
      return null;
    });
  });
}

async function leaderAlive() {
  const state = await navigator.locks.query();
  return state.held.some((l) => l.name === LEADER);
}

export async function shareSession(api) {
  if (typeof BroadcastChannel === "undefined") return;
  const channel = new BroadcastChannel(CHANNEL);
  const locks = Boolean(navigator.locks && navigator.locks.request);
  let leader = !locks || (await lead(() => {
    leader = true;
  }));
  let adopting = false;
  const waiting = [];
  const post = (message) => channel.postMessage(message);
  const adopt = (pair, team) => {
    adopting = true;
    try {
      const wasSignedIn = api.signedIn;
      api.setTokens(pair);
      if (team && !api.team) api.setTeam(team);
      if (!wasSignedIn) api.notify();
    } finally {
      adopting = false;
    }
  };
  const settle = (ok) => {
    while (waiting.length) waiting.shift()(ok);
  };

  const ownRotate = api.rotate.bind(api);
  api.rotate = async () => {
    if (leader) {
      const ok = await ownRotate();
      post(ok ? { type: "tokens", pair: api.tokens } : { type: "logout" });
      return ok;
    }
    if (!(await leaderAlive())) return ownRotate();
    const answer = new Promise((resolve) => {
      waiting.push(resolve);
      setTimeout(() => resolve(null), ROTATE_WAIT_MS);
    });
    post({ type: "rotate", pair: api.tokens });
    const ok = await answer;
    return ok === null ? ownRotate() : ok; // no leader answered: rotate here
  };

  api.onChange(() => {
    if (adopting) return;
    post(api.tokens ? { type: "tokens", pair: api.tokens, team: api.team } : { type: "logout" });
  });

  let asked = null;
  channel.onmessage = async ({ data }) => {
    if (!data || typeof data !== "object") return;
    if (data.type === "ask" && api.tokens) {
      post({ type: "tokens", pair: api.tokens, team: api.team });
    } else if (data.type === "tokens" && data.pair) {
      adopt(data.pair, data.team);
      settle(true);
      if (asked) asked();
    } else if (data.type === "logout") {
      adopting = true;
      try {
        api.clear();
      } finally {
        adopting = false;
      }
      settle(false);
    } else if (data.type === "rotate" && leader && data.pair) {
      const mine = api.tokens;
      if (mine && mine.access_token !== data.pair.access_token) {
        post({ type: "tokens", pair: mine, team: api.team }); // already rotated here
      } else {
        if (!mine) adopt(data.pair);
        await api.refresh();
      }
    }
  };

  if (api.tokens) return;
  await new Promise((resolve) => {
    asked = resolve;
    post({ type: "ask" });
    setTimeout(resolve, ASK_WAIT_MS);
  });
  asked = null;
}
