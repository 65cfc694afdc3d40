"""Tunnels to a port on an agent's 127.0.0.1 (its ComfyUI, Jupyter…), relayed over the agent's
own WebSocket: the API that opens and closes them, the browser's tunnel origin (HTTP and
WebSocket proxied), the TCP relay the CLI forwards local connections through, and the hop
between server processes (docs/architecture.md, "Tunnels")."""
