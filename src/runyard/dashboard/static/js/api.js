// The API client of the dashboard: session tokens (sessionStorage, this tab only), the team
// header, refresh rotation on a 401 (one refresh at a time), and the contract's error body.

const SESSION_KEY = "runyard.session";
const TEAM_KEY = "runyard.team";
const BASE = "/api/v1";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error_message) || `The server answered ${status}.`);
    this.status = status;
    this.code = (body && body.error_code) || "http_" + status;
    this.errors = (body && body.errors) || [];
    this.requestId = body && body.request_id;
  }
}

export async function toError(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

export class Api {
  constructor(storage) {
    this.storage = storage;
    this.tokens = readJson(storage, SESSION_KEY);
    this.team = storage.getItem(TEAM_KEY);
    this.refreshing = null;
    this.listeners = new Set();
  }

  get signedIn() {
    return Boolean(this.tokens);
  }

  onChange(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify() {
    for (const listener of this.listeners) listener();
  }

  setTeam(teamId) {
    this.team = teamId;
    if (teamId) this.storage.setItem(TEAM_KEY, teamId);
    else this.storage.removeItem(TEAM_KEY);
  }

  setTokens(pair) {
    this.tokens = { access_token: pair.access_token, refresh_token: pair.refresh_token };
    this.storage.setItem(SESSION_KEY, JSON.stringify(this.tokens));
  }

  clear() {
    const had = Boolean(this.tokens);
    this.tokens = null;
    this.storage.removeItem(SESSION_KEY);
    if (had) this.notify();
  }

  async login(email, password) {
    const response = await fetch(BASE + "/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email_address: email, user_password: password }),
    });
    if (!response.ok) throw await toError(response);
    this.setTokens(await response.json());
    this.notify();
  }

  async logout() {
    try {
      if (this.tokens) await this.request("POST", "/auth/logout");
    } finally {
      this.setTeam(null);
      this.clear();
    }
  }

  // One refresh at a time: requests refused together wait for the same rotation (a second
  // use of the old refresh token would revoke the whole login).
  refresh() {
    if (!this.refreshing) {
      this.refreshing = this.rotate().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  async rotate() {
    const token = this.tokens && this.tokens.refresh_token;
    if (!token) return false;
    const response = await fetch(BASE + "/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    if (!response.ok) {
      this.clear();
      return false;
    }
    this.setTokens(await response.json());
    return true;
  }

  headers(extra) {
    const headers = { ...(extra || {}) };
    if (this.tokens) headers.Authorization = "Bearer " + this.tokens.access_token;
    if (this.team) headers["X-Team-ID"] = this.team;
    return headers;
  }

  // fetch() under /api/v1 with the session; a 401 rotates the tokens once and retries.
  async raw(path, options = {}) {
    const used = this.tokens && this.tokens.access_token;
    const send = () => fetch(BASE + path, { ...options, headers: this.headers(options.headers) });
    let response = await send();
    if (response.status === 401 && used) {
      const current = this.tokens && this.tokens.access_token;
      const renewed = current && current !== used ? true : await this.refresh();
      if (renewed) response = await send();
    }
    return response;
  }

  async request(method, path, body, extraHeaders) {
    const options = { method, headers: { ...(extraHeaders || {}) } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await this.raw(path, options);
    if (!response.ok) throw await toError(response);
    if (response.status === 204) return null;
    return response.json();
  }

  get(path) {
    return this.request("GET", path);
  }

  post(path, body) {
    return this.request("POST", path, body === undefined ? {} : body);
  }

  put(path, body) {
    return this.request("PUT", path, body);
  }

  del(path) {
    return this.request("DELETE", path);
  }
}

function readJson(storage, key) {
  try {
    return JSON.parse(storage.getItem(key) || "null");
  } catch {
    return null;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? "?" + text : "";
}
