// Import a workflow from a file: the management format (JSON or YAML, as `runyard workflows
// import` takes it), or a ComfyUI API-format export, then a step that picks the parameters.
import { html, useState } from "../../vendor/preact-htm.js";
import { AgentsWarning } from "./labels.js";
import { load as loadYaml } from "../../vendor/js-yaml.js";
import { ErrorBox, Page } from "../ui.js";
import { navigate } from "../router.js";
import { ComfyStep, isComfyGraph } from "./comfy.js";

function parse(name, text) {
  if (/\.ya?ml$/i.test(name)) return loadYaml(text);
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    return loadYaml(text); // YAML is a superset of JSON: a better message for near-JSON
  }
}

export function classify(doc) {
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error("The file is not a JSON or YAML object.");
  }
  if ("workflow_slug" in doc || "tool_type" in doc) return "definition";
  if (isComfyGraph(doc)) return "comfyui";
  if (Array.isArray(doc.nodes)) {
    throw new Error(
      "This is a ComfyUI workflow in UI format. In ComfyUI, use “Export (API)” and import that file.",
    );
  }
  throw new Error("Not a workflow definition nor a ComfyUI API-format export.");
}

export function ImportPage({ ctx }) {
  const [file, setFile] = useState(null);
  const [doc, setDoc] = useState(null);
  const [kind, setKind] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const choose = async (e) => {
    const chosen = e.target.files[0];
    setError(null);
    setDoc(null);
    setKind(null);
    setFile(chosen || null);
    if (!chosen) return;
    try {
      const parsed = parse(chosen.name, await chosen.text());
      setKind(classify(parsed));
      setDoc(parsed);
    } catch (err) {
      setError({ message: err.message, code: null });
    }
  };
  const submit = async (definition) => {
    setBusy(true);
    setError(null);
    try {
      const created = await ctx.api.post("/workflows/import", definition);
      navigate("/workflows/" + created.id);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<${Page} title="Import a workflow">
    <p>Choose a workflow definition (JSON or YAML, the format of <code>runyard workflows import</code>)
      or a ComfyUI export in API format. Importing a slug that exists makes a new version.</p>
    <div class="field">
      <label for="workflow-file">Workflow file</label>
      <input id="workflow-file" type="file" accept=".json,.yaml,.yml,application/json" onChange=${choose} />
    </div>
    <${ErrorBox} error=${error} />
    ${kind === "definition"
      ? html`<div class="card">
          <h2>Definition</h2>
          <dl class="facts">
            <dt>Slug</dt><dd><code>${doc.workflow_slug}</code></dd>
            <dt>Type</dt><dd>${doc.tool_type}</dd>
            <dt>Parameters</dt><dd>${(doc.parameters || []).map((p) => p.key).join(", ") || "none"}</dd>
            <dt>Required labels</dt><dd>${(doc.required_labels || []).join(", ") || "none"}</dd>
          </dl>
          <${AgentsWarning} ctx=${ctx} labels=${doc.required_labels} toolType=${doc.tool_type} />
          <button type="button" class="primary" disabled=${busy} onClick=${() => submit(doc)}>Import</button>
        </div>`
      : null}
    ${kind === "comfyui"
      ? html`<${ComfyStep} graph=${doc} fileName=${file ? file.name : ""} busy=${busy} onSubmit=${submit} />`
      : null}
  <//>`;
}
