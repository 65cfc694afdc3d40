// A completed task's outputs: previews for images and videos, download links minted fresh from
// /result on every load (signed URLs expire; "Refresh links" asks for new ones).
import { html, useState } from "../../vendor/preact-htm.js";
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

export function Outputs({ ctx, id }) {
  const [round, setRound] = useState(0);
  const [result, error] = useLoad(() => ctx.api.get(`/r/tasks/${encodeURIComponent(id)}/result`), [id, round]);
  if (error) return html`<h2>Outputs</h2><${ErrorBox} error=${error} />`;
  if (!result) return html`<h2>Outputs</h2><p role="status">Loading…</p>`;
  const outputs = (result.task_output && result.task_output.outputs) || [];
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
          </div>
        </li>`;
      })}
    </ul>`;
}
