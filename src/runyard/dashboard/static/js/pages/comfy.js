// The step after choosing a ComfyUI API-format export: pick which node inputs become
// parameters (key, type, default), then name the workflow.
import { html, useState } from "../../vendor/preact-htm.js";

export function isComfyGraph(doc) {
  const nodes = Object.values(doc);
  return nodes.length > 0 && nodes.every((n) => n && typeof n === "object" && "class_type" in n);
}

const IMAGE_LOADERS = /^(LoadImage|LoadImageMask|VHS_LoadVideo|LoadVideo)/;

// Literal inputs only: a link to another node's output is [node_id, index].
export function candidates(graph) {
  const out = [];
  for (const [nodeId, node] of Object.entries(graph)) {
    for (const [field, value] of Object.entries(node.inputs || {})) {
      if (Array.isArray(value) || (value !== null && typeof value === "object")) continue;
      let type = typeof value === "number" ? "number" : typeof value === "boolean" ? "boolean" : "string";
      if (IMAGE_LOADERS.test(node.class_type) && (field === "image" || field === "video")) type = "file";
      out.push({ nodeId, field, value, type, title: (node._meta && node._meta.title) || node.class_type });
    }
  }
  return out;
}

function safeKey(text) {
  let key = text.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64);
  if (!/^[A-Za-z_]/.test(key)) key = ("p_" + key).slice(0, 64);
  return key;
}

function slugOf(name) {
  const slug = name.replace(/\.[^.]+$/, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return slug.length >= 2 ? slug.slice(0, 100) : "comfyui-workflow";
}

function parameterOf(c, pick) {
  const p = { key: pick.key, type: pick.type, label: c.title + " · " + c.field, required: pick.type === "file",
    node_id: c.nodeId, field: c.field };
  if (pick.type === "file") {
    p.accept = [c.field === "video" ? "video/*" : "image/*"];
  } else if (pick.type === "number") {
    p.default = Number(c.value);
    if (Number.isInteger(c.value)) p.integer = true;
  } else if (pick.type === "boolean") {
    p.default = Boolean(c.value);
  } else {
    p.default = String(c.value);
  }
  return p;
}

export function ComfyStep({ graph, fileName, busy, onSubmit }) {
  const found = candidates(graph);
  const [slug, setSlug] = useState(slugOf(fileName));
  const [name, setName] = useState(fileName.replace(/\.[^.]+$/, ""));
  const [labels, setLabels] = useState("comfyui");
  const [picks, setPicks] = useState(() => {
    const counts = {};
    for (const c of found) counts[c.field] = (counts[c.field] || 0) + 1;
    return found.map((c) => ({
      on: false,
      type: c.type,
      key: safeKey(counts[c.field] > 1 ? `${c.field}_${c.nodeId}` : c.field),
    }));
  });
  const update = (i, change) => setPicks((old) => old.map((p, j) => (j === i ? { ...p, ...change } : p)));
  const submit = (e) => {
    e.preventDefault();
    onSubmit({
      workflow_slug: slug,
      display_name: name,
      tool_type: "comfyui",
      workflow_json: graph,
      required_labels: labels.split(",").map((l) => l.trim()).filter(Boolean),
      parameters: found.flatMap((c, i) => (picks[i].on ? [parameterOf(c, picks[i])] : [])),
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="comfy-title">
    <h2 id="comfy-title">ComfyUI export: choose the parameters</h2>
    <div class="grid2">
      <div class="field"><label for="wf-slug">Slug</label>
        <input id="wf-slug" required pattern="[a-z0-9]+(-[a-z0-9]+)*" minlength="2" maxlength="100"
          value=${slug} onInput=${(e) => setSlug(e.target.value)} /></div>
      <div class="field"><label for="wf-name">Display name</label>
        <input id="wf-name" maxlength="200" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
      <div class="field"><label for="wf-labels">Required labels (comma-separated)</label>
        <input id="wf-labels" value=${labels} onInput=${(e) => setLabels(e.target.value)} /></div>
    </div>
    <div class="table-wrap"><table>
      <caption>Node inputs (${found.length}). Tick the ones a run may set.</caption>
      <thead><tr><th scope="col">Parameter</th><th scope="col">Node</th><th scope="col">Input</th>
        <th scope="col">Current value</th><th scope="col">Key</th><th scope="col">Type</th></tr></thead>
      <tbody>
        ${found.map((c, i) => {
          const id = `pick-${i}`;
          return html`<tr>
            <td><input type="checkbox" id=${id} checked=${picks[i].on}
              onChange=${(e) => update(i, { on: e.target.checked })} /></td>
            <td><label for=${id}>${c.title} <span class="muted">#${c.nodeId}</span></label></td>
            <td><code>${c.field}</code></td>
            <td class="value">${String(c.value)}</td>
            <td><input aria-label=${`Key for ${c.nodeId}.${c.field}`} value=${picks[i].key} disabled=${!picks[i].on}
              required=${picks[i].on} pattern="[A-Za-z_][A-Za-z0-9_]{0,63}"
              onInput=${(e) => update(i, { key: e.target.value })} /></td>
            <td><select aria-label=${`Type for ${c.nodeId}.${c.field}`} value=${picks[i].type}
              disabled=${!picks[i].on} onChange=${(e) => update(i, { type: e.target.value })}>
              ${["string", "number", "boolean", "file"].map((t) => html`<option value=${t}>${t}</option>`)}
            </select></td>
          </tr>`;
        })}
      </tbody>
    </table></div>
    <button type="submit" class="primary" disabled=${busy}>Import</button>
  </form>`;
}
