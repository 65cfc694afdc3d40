"""The stand-in's front page: like ComfyUI's frontend, it calls ABSOLUTE paths (``/api/…``)
and opens ``/ws?clientId=…`` on its own origin, then queues a tiny prompt and shows the
execution messages its socket receives. Like the real frontend (``frontend.py``) it loads a
4 MiB module bundle that imports 24 more modules, saves and reads back a setting, and lists
user data with a query string (a 404): ``#frontend`` says whether all of it worked. Served at
``/``: it only works when the app owns the root of its origin (as through a tunnel origin, not
under a path prefix)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ComfyUI (stand-in)</title></head>
<body>
<h1>ComfyUI stand-in</h1>
<p>version: <span id="version">…</span></p>
<p>socket: <span id="socket">connecting</span></p>
<p>prompt: <span id="prompt">not queued</span></p>
<p>frontend: <span id="frontend">loading</span></p>
<ul id="log"></ul>
<script type="module" src="/assets/index.js"></script>
<script type="module">
const setting = await fetch("/api/settings/Comfy.InstalledVersion", {
  method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify("1.27.10")});
const settings = await (await fetch("/api/settings")).json();
const listing = await fetch("/api/userdata?dir=workflows&recurse=true&split=false&full_info=true");
while (!window.standinBundle) await new Promise((resolve) => setTimeout(resolve, 50));
const b = window.standinBundle;
document.getElementById("frontend").textContent =
  `setting ${setting.status} ${settings["Comfy.InstalledVersion"]}, userdata ${listing.status}, ` +
  `bundle ${b.bytes} bytes + ${b.modules} modules`;
</script>
<script>
const clientId = Math.random().toString(16).slice(2);
const show = (id, text) => { document.getElementById(id).textContent = text; };
const note = (text) => {
  const li = document.createElement("li"); li.textContent = text;
  document.getElementById("log").appendChild(li);
};
fetch("/api/system_stats").then((r) => r.json())
  .then((s) => show("version", s.system.comfyui_version))
  .catch((e) => show("version", "failed: " + e));
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "/ws?clientId=" + clientId);
ws.onopen = () => show("socket", "open");
ws.onclose = (e) => show("socket", "closed " + e.code + " " + e.reason);
ws.onmessage = (event) => {
  if (typeof event.data !== "string") return;
  const message = JSON.parse(event.data);
  note(message.type);
  if (message.type === "status" && message.data.sid) {
    show("socket", "live");
    const graph = {
      "1": {"class_type": "EmptyImage",
            "inputs": {"width": 8, "height": 8, "batch_size": 1, "color": 0}},
      "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    };
    fetch("/api/prompt", {method: "POST", headers: {"Content-Type": "application/json"},
                          body: JSON.stringify({prompt: graph, client_id: clientId})})
      .then((r) => r.json()).then((r) => show("prompt", "queued " + r.prompt_id));
  }
  if (message.type === "execution_success") show("prompt", "done");
};
</script>
</body></html>
"""


async def front_page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)
