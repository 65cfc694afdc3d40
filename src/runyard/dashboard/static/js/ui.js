// Small shared pieces: the html tag, formatting, error display, status badges, paging.
import { html, useCallback, useEffect, useRef, useState } from "../vendor/preact-htm.js";

export { html };

export const ROLES = ["viewer", "member", "admin", "owner"];

export function atLeast(role, wanted) {
  return ROLES.indexOf(role) >= ROLES.indexOf(wanted);
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function bytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function shortId(id) {
  return id ? id.slice(-8) : "";
}

export function ErrorBox({ error }) {
  if (!error) return null;
  const details = error.errors || [];
  return html`<div class="error" role="alert">
    <strong>${error.message}</strong>
    ${error.code ? html` <code>${error.code}</code>` : null}
    ${details.length
      ? html`<ul>
          ${details.map(
            (d) => html`<li><code>${d.parameter}</code>: ${d.error_message}</li>`,
          )}
        </ul>`
      : null}
  </div>`;
}

export function Notice({ children }) {
  return html`<p class="notice" role="status">${children}</p>`;
}

export function StatusBadge({ status }) {
  return html`<span class=${"badge badge-" + status}>${status}</span>`;
}

// Loads `load()` once and again whenever `deps` change; returns [data, error, reload].
export function useLoad(load, deps) {
  const [state, setState] = useState({ data: null, error: null });
  const run = useCallback(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data, error: null }),
      (error) => live && setState({ data: null, error }),
    );
    return () => {
      live = false;
    };
  }, deps);
  useEffect(run, [run]);
  return [state.data, state.error, run];
}

export function Pager({ meta, onPage }) {
  if (!meta) return null;
  const pages = Math.max(1, Math.ceil(meta.total_count / meta.per_page));
  // A task list past 1,000 matches counts no further (total_exact false): there may be more.
  const more = meta.total_exact === false;
  if (pages <= 1 && !more) return null;
  return html`<nav class="pager" aria-label="Pages">
    <button type="button" disabled=${meta.current_page <= 1} onClick=${() => onPage(meta.current_page - 1)}>
      Previous
    </button>
    <span>Page ${meta.current_page} of ${pages}${more ? "+" : ""}</span>
    <button type="button" disabled=${!more && meta.current_page >= pages} onClick=${() => onPage(meta.current_page + 1)}>
      Next
    </button>
  </nav>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  };
  return html`<button type="button" onClick=${copy}>${copied ? "Copied" : label}</button>
    <span class="sr-only" role="status">${copied ? "Copied to the clipboard" : ""}</span>`;
}

// A page: its title names the document, and its heading takes the focus when the page opens, so
// a screen reader or keyboard user starts at the new page's top after following a link.
export function Page({ title, actions, children }) {
  const heading = useRef(null);
  useEffect(() => {
    document.title = `${title} · Runyard`;
  }, [title]);
  useEffect(() => {
    if (heading.current) heading.current.focus({ preventScroll: true });
  }, []);
  return html`<section>
    <header class="page-head">
      <h1 tabindex="-1" id="page-title" ref=${heading}>${title}</h1>
      ${actions ? html`<div class="actions">${actions}</div>` : null}
    </header>
    ${children}
  </section>`;
}
