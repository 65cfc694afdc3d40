// The run form, generated from a workflow's parameter definitions. File inputs are uploaded
// from the browser straight to the store (progress bar per file), then the run is submitted.
// The parameters are checked first (POST …/validate, files declared by name, size and type).
import { html, useState } from "../../vendor/preact-htm.js";
import { uploadFile } from "../upload.js";
import { ErrorBox, bytes } from "../ui.js";
import { navigate } from "../router.js";

// A re-run starts from the earlier task's parameters; its files are reused by file_key (until
// they expire) unless another file is chosen.
function initial(params, prefill) {
  const values = {};
  for (const p of params) {
    const earlier = prefill ? prefill[p.key] : undefined;
    if (earlier !== undefined && earlier !== null) {
      if (p.type === "file") values[p.key] = { fileKey: String(earlier) };
      else if (p.type === "boolean") values[p.key] = Boolean(earlier);
      else values[p.key] = String(earlier);
      continue;
    }
    if (p.type === "boolean") values[p.key] = Boolean(p.default);
    else if (p.type === "file") values[p.key] = null;
    else if (p.default !== null && p.default !== undefined) values[p.key] = String(p.default);
    else if (p.type === "select" && p.required && p.options.length) values[p.key] = p.options[0];
    else values[p.key] = "";
  }
  return values;
}

function Field({ p, value, onChange, progress, problem }) {
  const id = "param-" + p.key;
  const label = p.label || p.key;
  const describedBy = [p.description ? id + "-help" : null, problem ? id + "-error" : null]
    .filter(Boolean)
    .join(" ") || null;
  const common = { id, name: p.key, required: p.required, "aria-describedby": describedBy,
    "aria-invalid": problem ? "true" : null };
  let input;
  if (p.type === "boolean") {
    input = html`<input type="checkbox" ...${common} required=${false} checked=${value}
      onChange=${(e) => onChange(e.target.checked)} />`;
  } else if (p.type === "select") {
    input = html`<select ...${common} value=${value} onChange=${(e) => onChange(e.target.value)}>
      ${p.required ? null : html`<option value="">(none)</option>`}
      ${p.options.map((o) => html`<option value=${o}>${o}</option>`)}
    </select>`;
  } else if (p.type === "number") {
    input = html`<input type="number" ...${common} value=${value}
      min=${p.min ?? null} max=${p.max ?? null} step=${p.integer ? "1" : "any"}
      onInput=${(e) => onChange(e.target.value)} />`;
  } else if (p.type === "file") {
    input = html`<input type="file" ...${common} required=${p.required && !(value && value.fileKey)}
      accept=${(p.accept || []).join(",") || null}
      onChange=${(e) => onChange(e.target.files[0] || null)} />
      ${value && value.fileKey
        ? html`<p class="muted reused">Reusing <code>${value.fileKey.split("/").pop()}</code> from the earlier task (choose a file to replace it).</p>`
        : null}
      ${progress
        ? html`<div class="progress">
            <progress max=${progress.total || 1} value=${progress.sent}
              aria-label=${"Upload of " + label}></progress>
            <span>${bytes(progress.sent)} of ${bytes(progress.total)}</span>
          </div>`
        : null}`;
  } else if (p.max_length && p.max_length <= 200) {
    input = html`<input type="text" ...${common} maxlength=${p.max_length} value=${value}
      onInput=${(e) => onChange(e.target.value)} />`;
  } else {
    input = html`<textarea ...${common} rows="3" maxlength=${p.max_length ?? null} value=${value}
      onInput=${(e) => onChange(e.target.value)}></textarea>`;
  }
  const limits = [];
  if (p.type === "number") {
    if (p.min !== null && p.min !== undefined) limits.push(`min ${p.min}`);
    if (p.max !== null && p.max !== undefined) limits.push(`max ${p.max}`);
    if (p.integer) limits.push("whole number");
  }
  if (p.type === "file" && p.accept && p.accept.length) limits.push(p.accept.join(", "));
  return html`<div class=${"field field-" + p.type}>
    <label for=${id}>${label}${p.required ? html`<span aria-hidden="true"> *</span>` : null}
      ${limits.length ? html` <span class="muted">(${limits.join(", ")})</span>` : null}</label>
    ${input}
    ${p.description ? html`<p class="help" id=${id + "-help"}>${p.description}</p>` : null}
    ${problem ? html`<p class="field-error" id=${id + "-error"}>${problem}</p>` : null}
  </div>`;
}

export function RunForm({ ctx, workflow, target, prefill }) {
  const params = workflow.parameters;
  const [values, setValues] = useState(() => initial(params, prefill));
  const [priority, setPriority] = useState(String(workflow.priority || 0));
  const [progress, setProgress] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const problems = {};
  for (const e of (error && error.errors) || []) problems[e.parameter] = e.error_message;

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const parameters = {};
      const files = [];
      for (const p of params) {
        const value = values[p.key];
        if (p.type === "file") {
          if (!value) continue;
          if (value.fileKey) {
            parameters[p.key] = value.fileKey; // already uploaded: checked by key
            continue;
          }
          files.push([p.key, value]);
          parameters[p.key] = {
            file_name: value.name,
            file_size: value.size,
            content_type: value.type || "application/octet-stream",
          };
        } else if (p.type === "boolean") {
          parameters[p.key] = value;
        } else if (value !== "" && value !== null) {
          parameters[p.key] = p.type === "number" ? Number(value) : value;
        }
      }
      // Checked before any byte moves: a bad value is refused before the files upload.
      if (files.length) await ctx.api.post(target.replace(/\/run$/, "/validate"), { parameters });
      for (const [key, file] of files) {
        parameters[key] = await uploadFile(ctx.api, file, (sent, total) =>
          setProgress((old) => ({ ...old, [key]: { sent, total } })),
        );
      }
      const created = await ctx.api.post(target, { parameters, priority: Number(priority) });
      navigate("/tasks/" + created.task_id);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<form class="run-form" onSubmit=${submit} aria-label="Run this workflow">
    ${params.length ? null : html`<p>This workflow takes no parameters.</p>`}
    ${params.map(
      (p) => html`<${Field} key=${p.key} p=${p} value=${values[p.key]} progress=${progress[p.key]}
        problem=${problems[p.key]}
        onChange=${(v) => setValues((old) => ({ ...old, [p.key]: v }))} />`,
    )}
    <div class="field">
      <label for="run-priority">Priority</label>
      <input id="run-priority" type="number" min="-10" max="10" step="1" value=${priority}
        onInput=${(e) => setPriority(e.target.value)} aria-describedby="run-priority-help" />
      <p class="help" id="run-priority-help">-10 (last) to 10 (first). A task of priority p is
        queued as if submitted p minutes earlier.</p>
    </div>
    <${ErrorBox} error=${error} />
    <button type="submit" class="primary" disabled=${busy}>${busy ? "Starting…" : "Run"}</button>
  </form>`;
}
