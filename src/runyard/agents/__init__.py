"""Agents as the API sees them: registration records, heartbeats, and `GET /r/agents`."""
