// A completed task's outputs: previews for images and videos, download links minted fresh from
// /result on every load (signed URLs expire; "Refresh links" asks for new ones).
import { html, useEffect, useRef, useState } from "../../vendor/preact-htm.js";
import { ErrorBox, bytes, useLoad, when } from "../ui.js";

function Preview({ output, url }) {
  const type = output.content_type || "";
  if (type.startsWith("image/")) {
    return html`<img class="preview" src=${url} alt=${"Preview of " + output.file_name} loading="lazy" />`;
  }
  if (type.startsWith("video/")) {
    return html`<video class="preview" src=${url} controls preload="metadata"
      aria-label=${"Video " + output.file_name}></video>`;
  }
  return null;
}

const TEXT_LIMIT = 1024 * 1024; // characters shown in the viewer

function isText(type) {
  return type.startsWith("text/") || /json|xml|yaml|csv/.test(type);
}

// The large view of one output: an image or video at full size, a text shown as text.
function Viewer({ output, url, onClose }) {
  const dialog = useRef(null);
  const [text, setText] = useState(null);
  const type = output.content_type || "";
  useEffect(() => {
    if (dialog.current && !dialog.current.open) dialog.current.showModal();
    if (!isText(type)) return;
    fetch(url).then((r) => r.text()).then(
      (body) => setText(body.length > TEXT_LIMIT ? body.slice(0, TEXT_LIMIT) + "\n…" : body),
      () => setText("(could not load the text; use Download)"),
    );
  }, [url]);
  let body = html`<p>No preview for ${type}; use Download.</p>`;
  if (type.startsWith("image/")) body = html`<img src=${url} alt=${output.file_name} />`;
  else if (type.startsWith("video/")) body = html`<video src=${url} controls autoplay aria-label=${output.file_name}></video>`;
  else if (isText(type)) body = html`<pre class="json" id="viewer-text">${text === null ? "Loading…" : text}</pre>`;
  return html`<dialog class="viewer" ref=${dialog} aria-label=${"Output " + output.file_name} onClose=${onClose}>
    <header class="page-head"><strong>${output.file_name}</strong>
      <div class="actions">
        <a class="button" href=${url} download=${output.file_name} rel="noopener noreferrer">Download</a>
        <button type="button" onClick=${() => dialog.current.close()}>Close</button>
      </div></header>
    ${body}
  </dialog>`;
}

export function Outputs({ ctx, id }) {
  const [round, setRound] = useState(0);
  const [open, setOpen] = useState(null);
  const [result, error] = useLoad(() => ctx.api.get(`/r/tasks/${encodeURIComponent(id)}/result`), [id, round]);
  if (error) return html`<h2>Outputs</h2><${ErrorBox} error=${error} />`;
  if (!result) return html`<h2>Outputs</h2><p role="status">Loading…</p>`;
  const outputs = (result.task_output && result.task_output.outputs) || [];
  const values = Object.entries((result.task_output && result.task_output.values) || {});
  return html`<h2>Outputs</h2>
    <p class="muted">Links valid until ${when(result.expires_at)}.${" "}
      <button type="button" onClick=${() => setRound(round + 1)}>Refresh links</button></p>
    ${outputs.length ? null : html`<p>This task produced no outputs.</p>`}
    <ul class="outputs">
      ${outputs.map((o) => {
        const url = result.download_urls[o.output_id];
        return html`<li class="output card">
          <${Preview} output=${o} url=${url} />
          <div>
            <strong>${o.file_name}</strong>
            <div class="muted">${o.content_type} · ${bytes(o.file_size)} · <code>${o.output_id}</code></div>
            <a class="button" href=${url} download=${o.file_name} rel="noopener noreferrer">Download</a>
            ${" "}<button type="button" onClick=${() => setOpen(o)}>Open ${o.file_name}</button>
          </div>
        </li>`;
      })}
    </ul>
    ${values.length
      ? html`<h3>Values</h3><dl class="facts">${values.map(([k, v]) => html`<dt><code>${k}</code></dt>
          <dd><pre class="json">${typeof v === "string" ? v : JSON.stringify(v, null, 2)}</pre></dd>`)}</dl>`
      : null}
    ${open ? html`<${Viewer} output=${open} url=${result.download_urls[open.output_id]} onClose=${() => setOpen(null)} />` : null}`;
}
