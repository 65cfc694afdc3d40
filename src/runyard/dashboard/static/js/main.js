// Entry point: builds the API client for this tab, joins the session of the browser's other
// tabs (js/tabs.js), and renders the app.
import { html, render } from "../vendor/preact-htm.js";
import { Api } from "./api.js";
import { App } from "./app.js";
import { shareSession } from "./tabs.js";

const api = new Api(window.sessionStorage);
const root = document.getElementById("app");
shareSession(api).then(() => {
  root.textContent = ""; // drop the "Loading" placeholder
  render(html`<${App} api=${api} />`, root);
});
