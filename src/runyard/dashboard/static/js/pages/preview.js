// The latest live preview of a running task (ComfyUI sampler steps). Each `preview` event bumps
// `seq`; the image is fetched with the session (an <img src> cannot send the Authorization
// header) and shown from a blob: URL, the previous one revoked. Nothing is shown until one loads.
import { html, useEffect, useState } from "../../vendor/preact-htm.js";

export function LivePreview({ ctx, id, seq }) {
  const [url, setUrl] = useState(null);
  useEffect(() => {
    if (!seq) return undefined;
    const controller = new AbortController();
    (async () => {
      try {
        const response = await ctx.api.raw(`/r/tasks/${encodeURIComponent(id)}/preview`, {
          signal: controller.signal,
          cache: "no-store",
        });
        if (!response.ok) return;
        const blob = await response.blob();
        if (controller.signal.aborted) return;
        setUrl(URL.createObjectURL(blob)); // the effect below revokes the one it replaces
      } catch {
        // aborted, or the network blinked: the next preview event tries again
      }
    })();
    return () => controller.abort();
  }, [id, seq]);
  useEffect(() => () => url && URL.revokeObjectURL(url), [url]);
  if (!url) return null;
  return html`<figure class="live-preview">
    <img src=${url} alt="Live preview" />
    <figcaption class="muted">Live preview</figcaption>
  </figure>`;
}
