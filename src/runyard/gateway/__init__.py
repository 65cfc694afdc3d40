"""The agent gateway: the WebSocket endpoint agents dial out to, and the registry of the
connections this server process holds."""
