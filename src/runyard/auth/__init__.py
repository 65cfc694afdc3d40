"""Authentication (sessions, refresh rotation, API keys) and the access matrix, enforced in one place."""
