// The team's ComfyUI custom node packages, on the Models page: upload an archive (zip or tar.gz
// of one folder; its sha256 computed here, sent through /models/presign, then registered: the
// server checks every entry and says which one it refuses), the list with each package's status
// (disable, enable) and delete. A folder is packed by `runyard nodes upload DIR`.
import { html, useEffect, useState } from "../../vendor/preact-htm.js";
import { query } from "../api.js";
import { putWithProgress } from "../upload.js";
import { ErrorBox, Pager, atLeast, bytes, useLoad, when } from "../ui.js";

async function sha256Of(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function uploadPackage(api, file, name, onStep) {
  onStep("Computing sha256", 0, file.size);
  const sha256 = await sha256Of(file);
  const presign = await api.post("/models/presign", {
    file_name: file.name, file_size: file.size, sha256,
  });
  if (!presign.already_uploaded) {
    await putWithProgress(presign.upload_url, presign.upload_headers, file, (sent) =>
      onStep("Uploading", sent, file.size),
    );
  }
  onStep("Checking the archive", file.size, file.size);
  const body = { file_key: presign.file_key, sha256 };
  if (name) body.name = name;
  return api.post("/node-packages", body);
}

function PackageForm({ ctx, onAdded }) {
  const [file, setFile] = useState(null);
  const [name, setName] = useState("");
  const [step, setStep] = useState(null);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    if (!file) return setError(new Error("Choose a package archive first."));
    try {
      const row = await uploadPackage(ctx.api, file, name, (label, sent, total) =>
        setStep({ label, sent, total }),
      );
      setStep({ label: `Added custom_nodes/${row.name}`, sent: file.size, total: file.size });
      setFile(null);
      setName("");
      e.target.reset();
      onAdded();
    } catch (err) {
      setStep(null);
      setError(err);
    }
  };
  return html`<form class="card inline-form" onSubmit=${submit} aria-labelledby="new-package">
    <h2 id="new-package">Add a custom node package</h2>
    <div class="field"><label for="package-file">Package archive (zip or tar.gz of one folder)</label>
      <input id="package-file" type="file" accept=".zip,.tar.gz,.tgz,.tar"
        onChange=${(e) => setFile(e.target.files[0] || null)} /></div>
    <div class="field"><label for="package-name">Folder name (default: the archive's folder)</label>
      <input id="package-name" maxlength="100" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
    <button type="submit" class="primary">Add package</button>
    ${step
      ? html`<div class="progress" role="status">
          <span>${step.label}</span>
          <progress aria-label="Package upload progress" max=${step.total || 1} value=${step.sent}></progress>
          <span>${bytes(step.sent)} of ${bytes(step.total)}</span>
        </div>`
      : null}
    <${ErrorBox} error=${error} />
  </form>`;
}

function heldBy(agents, packageId) {
  const held = agents
    .filter((a) => (a.synced_node_packages || []).includes(packageId))
    .map((a) => a.agent_id);
  return held.length ? held.join(", ") : html`<span class="muted">no agent yet</span>`;
}

export function NodePackagesSection({ ctx }) {
  const [page, setPage] = useState(1);
  const [actionError, setActionError] = useState(null);
  const [data, error, reload] = useLoad(async () => {
    const [packages, agents] = await Promise.all([
      ctx.api.get("/node-packages" + query({ current_page: page, per_page: 50 })),
      ctx.api.get("/r/agents" + query({ per_page: 100 })),
    ]);
    return { ...packages, agents: agents.agent_list };
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
  const path = (p) => `/node-packages/${encodeURIComponent(p.id)}`;
  const toggle = (p) => act(() => ctx.api.put(path(p), {
    package_status: p.package_status === "active" ? "disabled" : "active",
  }));
  const remove = (p) => {
    if (!window.confirm(`Delete the node package ${p.name}? Agents remove it too.`)) return;
    act(() => ctx.api.del(path(p)));
  };
  const list = data ? data.node_package_list : [];
  return html`<section aria-labelledby="node-packages">
    <h2 id="node-packages">Custom node packages</h2>
    <p class="muted">Unpacked in ComfyUI's <code>custom_nodes/</code> on every agent started
      with <code>--comfyui-dir</code> while active; a supervised ComfyUI restarts once per change.</p>
    ${canWrite ? html`<${PackageForm} ctx=${ctx} onAdded=${reload} />` : null}
    <${ErrorBox} error=${error || actionError} />
    ${data && !list.length ? html`<p>No node packages yet.</p>` : null}
    ${list.length
      ? html`<div class="table-wrap"><table class="node-packages">
          <caption class="sr-only">Custom node packages</caption>
          <thead><tr><th scope="col">Folder</th><th scope="col">Files</th><th scope="col">Size</th>
            <th scope="col">Requirements</th><th scope="col">sha256</th><th scope="col">Status</th>
            <th scope="col">Held by</th><th scope="col">Added</th>
            ${canWrite ? html`<th scope="col">Actions</th>` : null}</tr></thead>
          <tbody>
            ${list.map((p) => html`<tr>
              <td><code>custom_nodes/${p.name}</code></td>
              <td>${p.file_count}</td>
              <td>${bytes(p.unpacked_bytes)}</td>
              <td>${p.requirements ? html`<code title=${p.requirements}>requirements.txt</code>` : html`<span class="muted">none</span>`}</td>
              <td><code title=${p.sha256}>${p.sha256.slice(0, 12)}…</code></td>
              <td><span class=${"badge badge-" + p.package_status}>${p.package_status}</span></td>
              <td class="held-by">${heldBy(data.agents, p.id)}</td>
              <td>${when(p.created_at)}</td>
              ${canWrite
                ? html`<td>
                    <button type="button" aria-label=${(p.package_status === "active" ? "Disable " : "Enable ") + p.name}
                      onClick=${() => toggle(p)}>${p.package_status === "active" ? "Disable" : "Enable"}</button>
                    ${" "}<button type="button" class="danger" aria-label=${"Delete " + p.name}
                      onClick=${() => remove(p)}>Delete</button>
                  </td>`
                : null}
            </tr>`)}
          </tbody>
        </table></div>
        <${Pager} meta=${data.page_meta} onPage=${setPage} />`
      : null}
  </section>`;
}
