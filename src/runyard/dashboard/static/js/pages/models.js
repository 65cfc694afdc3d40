// The team's model library: upload a model file (its sha256 computed here, then one presigned
// PUT or, above the single-upload limit, the resumable multipart flow, with progress), the list
// with each model's status (disable, enable), delete, and which agents hold each model (from
// their sync reports in GET /r/agents).
import { html, useEffect, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { putWithProgress, uploadMultipart } from "../upload.js";
import { ErrorBox, Page, Pager, atLeast, bytes, useLoad, when } from "../ui.js";
import { NodePackagesSection } from "./node_packages.js";

const TYPES = [
  "checkpoints", "loras", "vae", "controlnet", "upscale_models", "embeddings",
  "clip_vision", "text_encoders", "diffusion_models",
];
// crypto.subtle hashes a whole buffer at once: the browser holds the file in memory for it.
const HASH_LIMIT = 2 * 1024 ** 3;

async function sha256Of(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

// Returns the registered model. onStep(label, sent, total) reports each phase.
async function uploadModel(api, file, form, onStep) {
  onStep("Computing sha256", 0, file.size);
  const sha256 = await sha256Of(file);
  const description = { file_name: file.name, file_size: file.size, sha256 };
  let fileKey;
  try {
    const presign = await api.post("/models/presign", description);
    fileKey = presign.file_key;
    if (!presign.already_uploaded) {
      await putWithProgress(presign.upload_url, presign.upload_headers, file, (sent) =>
        onStep("Uploading", sent, file.size),
      );
    }
  } catch (error) {
    if (error.status !== 413) throw error;
    fileKey = await uploadMultipart(
      api, file, description, (sent, total) => onStep("Uploading", sent, total), null,
      "/models/multipart",
    );
  }
  onStep("Registering", file.size, file.size);
  return api.post("/models", {
    display_name: form.name || file.name,
    model_type: form.type,
    model_path: form.path || file.name,
    file_key: fileKey,
    sha256,
  });
}

function UploadForm({ ctx, onAdded }) {
  const [file, setFile] = useState(null);
  const [form, setForm] = useState({ type: "checkpoints", path: "", name: "" });
  const [step, setStep] = useState(null);
  const [error, setError] = useState(null);
  const set = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    if (!file) return setError(new Error("Choose a model file first."));
    if (file.size > HASH_LIMIT) {
      return setError(new Error("Files over 2 GiB: use `runyard models upload FILE --type TYPE` (it hashes while reading)."));
    }
    try {
      const row = await uploadModel(ctx.api, file, form, (label, sent, total) =>
        setStep({ label, sent, total }),
      );
      setStep({ label: `Added ${row.model_type}/${row.model_path}`, sent: file.size, total: file.size });
      setFile(null);
      setForm({ ...form, path: "", name: "" });
      e.target.reset();
      onAdded();
    } catch (err) {
      setStep(null);
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="new-model">
    <h2 id="new-model">Add a model</h2>
    <div class="field"><label for="model-file">Model file</label>
      <input id="model-file" type="file" onChange=${(e) => setFile(e.target.files[0] || null)} /></div>
    <div class="field"><label for="model-type">Type (models subfolder)</label>
      <input id="model-type" list="model-types" required maxlength="50" value=${form.type} onInput=${set("type")} />
      <datalist id="model-types">${TYPES.map((t) => html`<option value=${t} />`)}</datalist></div>
    <div class="field"><label for="model-path">Path under the folder (default: the file's name)</label>
      <input id="model-path" maxlength="1024" placeholder="sub/name.safetensors" value=${form.path} onInput=${set("path")} /></div>
    <div class="field"><label for="model-name">Display name (optional)</label>
      <input id="model-name" maxlength="255" value=${form.name} onInput=${set("name")} /></div>
    <button type="submit" class="primary">Upload</button>
    ${step
      ? html`<div class="progress" role="status">
          <span>${step.label}</span>
          <progress aria-label="Upload progress" max=${step.total || 1} value=${step.sent}></progress>
          <span>${bytes(step.sent)} of ${bytes(step.total)}</span>
        </div>`
      : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

function holders(agents, modelId) {
  return agents.filter((a) => (a.synced_models || []).includes(modelId)).map((a) => a.agent_id);
}

export function ModelsPage({ ctx }) {
  const [page, setPage] = useState(1);
  const [actionError, setActionError] = useState(null);
  const [data, error, reload] = useLoad(async () => {
    const [models, agents] = await Promise.all([
      ctx.api.get("/models" + query({ current_page: page, per_page: 50 })),
      ctx.api.get("/r/agents" + query({ per_page: 100 })),
    ]);
    return { models, agents: agents.agent_list };
  }, [page]);
  useEffect(() => {
    const timer = setInterval(reload, 5000); // the agents' sync reports change by themselves
    return () => clearInterval(timer);
  }, [reload]);
  const canWrite = atLeast(ctx.role, "member");
  const act = async (work) => {
    setActionError(null);
    try {
      await work();
      reload();
    } catch (err) {
      setActionError(err);
    }
  };
  const toggle = (m) => act(() => ctx.api.put(`/models/${encodeURIComponent(m.id)}`, {
    model_status: m.model_status === "active" ? "disabled" : "active",
  }));
  const remove = (m) => {
    if (!window.confirm(`Delete ${m.model_type}/${m.model_path}? Agents remove it too.`)) return;
    act(() => ctx.api.del(`/models/${encodeURIComponent(m.id)}`));
  };
  return html`<${Page} title="Models">
    <p class="muted">The team's model files, kept in the ComfyUI <code>models/</code> folder of every
      agent started with <code>--comfyui-dir</code> while active.</p>
    ${canWrite ? html`<${UploadForm} ctx=${ctx} onAdded=${reload} />` : null}
    <${ErrorBox} error=${error || actionError} />
    ${data && !data.models.model_list.length ? html`<p>No models yet.</p>` : null}
    ${data && data.models.model_list.length
      ? html`<div class="table-wrap"><table class="models">
          <caption class="sr-only">Models</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Place</th><th scope="col">Size</th>
            <th scope="col">sha256</th><th scope="col">Status</th><th scope="col">Held by</th>
            <th scope="col">Added</th>${canWrite ? html`<th scope="col">Actions</th>` : null}</tr></thead>
          <tbody>
            ${data.models.model_list.map((m) => {
              const held = holders(data.agents, m.id);
              return html`<tr>
                <td>${m.display_name}</td>
                <td><code>${m.model_type}/${m.model_path}</code></td>
                <td>${bytes(m.file_size)}</td>
                <td><code title=${m.sha256}>${m.sha256.slice(0, 12)}…</code></td>
                <td><span class=${"badge badge-" + m.model_status}>${m.model_status}</span></td>
                <td class="held-by">${held.length ? held.join(", ") : html`<span class="muted">no agent yet</span>`}</td>
                <td>${when(m.created_at)}</td>
                ${canWrite
                  ? html`<td>
                      <button type="button" aria-label=${(m.model_status === "active" ? "Disable " : "Enable ") + m.model_path}
                        onClick=${() => toggle(m)}>${m.model_status === "active" ? "Disable" : "Enable"}</button>
                      ${" "}<button type="button" class="danger" aria-label=${"Delete " + m.model_path}
                        onClick=${() => remove(m)}>Delete</button>
                    </td>`
                  : null}
              </tr>`;
            })}
          </tbody>
        </table></div>
        <${Pager} meta=${data.models.page_meta} onPage=${setPage} />`
      : null}
    <${NodePackagesSection} ctx=${ctx} />
  <//>`;
}
