"""The MCP server at ``/mcp`` (Streamable HTTP, stateless, JSON answers): AI clients list and
run the team's workflows with an integration (``sk-``) key. Every tool calls the same services
as the HTTP routes, in the key's team; see docs/mcp.md."""

from runyard.mcp.server import McpServer

__all__ = ["McpServer"]
