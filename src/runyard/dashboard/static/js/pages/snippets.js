// Ready-to-copy ways to run a workflow from elsewhere: curl, the Python SDK and the CLI, filled
// with its slug and an example value per parameter (its default, first option, lower bound…).
import { html, useState } from "../../vendor/preact-htm.js";
import { CopyButton } from "../ui.js";

function example(p) {
  if (p.default !== null && p.default !== undefined) return p.default;
  if (p.type === "select") return (p.options || [""])[0];
  if (p.type === "number") return p.min ?? 1;
  if (p.type === "boolean") return false;
  if (p.type === "file") return null;
  return "text";
}

const py = (v) => (v === true ? "True" : v === false ? "False" : JSON.stringify(v));

export function snippetsFor(workflow, origin) {
  const slug = workflow.workflow_slug;
  const params = workflow.parameters || [];
  const files = params.filter((p) => p.type === "file");
  const values = params.filter((p) => p.type !== "file" && (p.required || p.default !== undefined));
  const base = `${origin}/api/v1`;
  const fileName = (p) => (p.accept || []).some((a) => a.startsWith("image/")) ? "photo.png" : "input.bin";

  const curl = [
    `BASE=${base}`,
    `AUTH="Authorization: Bearer $RUNYARD_API_KEY"`,
    ...files.flatMap((p) => [
      `# ${p.key}: presign, PUT the file, keep its file_key`,
      `UP=$(curl -s -X POST "$BASE/r/files/presign" -H "$AUTH" -H 'Content-Type: application/json' \\`,
      `  -d '{"file_name": "${fileName(p)}", "file_size": '$(stat -c %s ${fileName(p)})', "content_type": "application/octet-stream"}')`,
      `curl -s -X PUT "$(echo "$UP" | jq -r .upload_url)" --data-binary @${fileName(p)} \\`,
      `  $(echo "$UP" | jq -r '.upload_headers | to_entries[] | "-H \\(.key): \\(.value)"')`,
      `KEY_${p.key.toUpperCase()}=$(echo "$UP" | jq -r .file_key)`,
    ]),
    `curl -s -X POST "$BASE/r/workflows/slug/${slug}/run" -H "$AUTH" -H 'Content-Type: application/json' \\`,
    `  -d '{"parameters": {${[
      ...files.map((p) => `"${p.key}": "'"$KEY_${p.key.toUpperCase()}"'"`),
      ...values.map((p) => `"${p.key}": ${JSON.stringify(example(p))}`),
    ].join(", ")}}}'`,
  ].join("\n");

  const pyArgs = [
    ...files.map((p) => `"${p.key}": Path("${fileName(p)}")`),
    ...values.map((p) => `"${p.key}": ${py(example(p))}`),
  ];
  const python = [
    "from pathlib import Path",
    "",
    "from runyard_client import Client",
    "",
    `with Client("${origin}") as client:  # the key: RUNYARD_API_KEY or \`runyard login\``,
    `    task = client.run("${slug}", {${pyArgs.join(", ")}})`,
    "    task.wait(raise_on_failure=True)",
    '    print(task.download("out/"))',
  ].join("\n");

  const cli = [
    `runyard login --server ${origin}`,
    [
      `runyard run ${slug}`,
      ...files.map((p) => `-p ${p.key}=@${fileName(p)}`),
      ...values.map((p) => `-p ${p.key}=${JSON.stringify(example(p))}`),
      "--wait --download out/",
    ].join(" "),
  ].join("\n");
  return { curl, python, cli };
}

const TABS = [["curl", "curl"], ["python", "Python SDK"], ["cli", "CLI"]];

export function Snippets({ workflow }) {
  const [tab, setTab] = useState("curl");
  const all = snippetsFor(workflow, window.location.origin);
  return html`<section class="snippets" aria-labelledby="snippets-title">
    <h2 id="snippets-title">Run it from code</h2>
    <div class="actions" role="group" aria-label="Snippet language">
      ${TABS.map(([name, label]) => html`<button type="button" aria-pressed=${tab === name ? "true" : "false"}
        class=${tab === name ? "primary" : ""} onClick=${() => setTab(name)}>${label}</button>`)}
    </div>
    <pre class="json snippet" id=${"snippet-" + tab}>${all[tab]}</pre>
    <${CopyButton} text=${all[tab]} label="Copy snippet" />
  </section>`;
}
