// A warning when no agent with a workflow's labels has ever connected to the team: shown in the
// import preview and above the run form, so a run is not started to wait for good unexplained.
import { html } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { useLoad } from "../ui.js";

export function AgentsWarning({ ctx, labels, toolType }) {
  const wanted = labels || [];
  const [data] = useLoad(() => ctx.api.get("/r/agents" + query({ per_page: 100 })), []);
  if (!data) return null;
  const seen = data.agent_list.filter((a) => wanted.every((l) => a.agent_labels.includes(l)));
  if (seen.length) return null;
  const flag = wanted.length ? ` --labels ${wanted.join(",")}` : "";
  const comfy = toolType === "comfyui"
    ? html` For ComfyUI, give it the ComfyUI to use: <code>--comfyui-url http://127.0.0.1:8188</code>
        (or <code>runyard dev --comfyui-url …</code> on one machine).`
    : null;
  return html`<p class="warning" role="status" id="agents-warning">
    No agent with the labels <strong>${wanted.join(", ") || "(none)"}</strong> has connected to this
    team yet, so a run would wait until one does. Start one with
    <code>runyard agent${flag}</code>.${comfy}
  </p>`;
}
