// Your account: display name and password (changing it ends your other sessions).
import { html, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, Page } from "../ui.js";

function Name({ ctx }) {
  const [name, setName] = useState(ctx.me.display_name || "");
  const [error, setError] = useState(null);
  const [saved, setSaved] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setSaved(false);
    try {
      await ctx.api.put("/users/me", { display_name: name.trim() });
      setSaved(true);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="name-title">
    <h2 id="name-title">Profile</h2>
    <div class="field"><label for="account-name">Display name</label>
      <input id="account-name" maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    <button type="submit" class="primary">Save</button>
    ${saved ? html`<p role="status">Saved.</p>` : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

function Password({ ctx }) {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setDone(false);
    if (next !== again) {
      setError({ message: "The new passwords differ; type the same one twice." });
      return;
    }
    setError(null);
    try {
      await ctx.api.post("/users/me/password", { current_password: current, new_password: next });
      setCurrent("");
      setNext("");
      setAgain("");
      setDone(true);
    } catch (err) {
      setError(err);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="password-title">
    <h2 id="password-title">Password</h2>
    <p class="muted">Your other sessions end; this one goes on.</p>
    <div class="field"><label for="pw-current">Current password</label>
      <input id="pw-current" type="password" autocomplete="current-password" required value=${current}
        onInput=${(e) => setCurrent(e.target.value)} /></div>
    <div class="field"><label for="pw-new">New password (at least 8 characters)</label>
      <input id="pw-new" type="password" autocomplete="new-password" required minlength="8" value=${next}
        onInput=${(e) => setNext(e.target.value)} /></div>
    <div class="field"><label for="pw-again">New password again</label>
      <input id="pw-again" type="password" autocomplete="new-password" required minlength="8" value=${again}
        onInput=${(e) => setAgain(e.target.value)} /></div>
    <button type="submit" class="primary">Change password</button>
    ${done ? html`<p role="status">Password changed; your other sessions ended.</p>` : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

export function AccountPage({ ctx }) {
  return html`<${Page} title="Your account">
    <p class="muted">Signed in as ${ctx.me.email_address}.</p>
    <${Name} ctx=${ctx} />
    <${Password} ctx=${ctx} />
  <//>`;
}
