// Entry point: builds the API client for this tab and renders the app.
import { html, render } from "../vendor/preact-htm.js";
import { Api } from "./api.js";
import { App } from "./app.js";

const api = new Api(window.sessionStorage);
const root = document.getElementById("app");
root.textContent = ""; // drop the "Loading" placeholder
render(html`<${App} api=${api} />`, root);
