import { html, useState } from "../../vendor/preact-htm.js";
import { ErrorBox } from "../ui.js";

export function Login({ api }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api.login(email.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<main id="main" class="narrow login">
    <h1>Sign in to Runyard</h1>
    <form onSubmit=${submit}>
      <label for="email">Email address</label>
      <input id="email" type="email" autocomplete="username" required value=${email}
        onInput=${(e) => setEmail(e.target.value)} />
      <label for="password">Password</label>
      <input id="password" type="password" autocomplete="current-password" required value=${password}
        onInput=${(e) => setPassword(e.target.value)} />
      <${ErrorBox} error=${error} />
      <button type="submit" class="primary" disabled=${busy}>${busy ? "Signing in…" : "Sign in"}</button>
    </form>
    <p class="hint">
      Running <code>runyard dev</code>? The email address and password are in <code>credentials.json</code> in its data directory.
    </p>
  </main>`;
}
