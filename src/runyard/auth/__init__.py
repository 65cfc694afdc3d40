"""Authentication (sessions, refresh rotation, API keys) and the access matrix, in one place."""
