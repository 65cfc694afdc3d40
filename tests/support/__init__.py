"""Shared test helpers: databases per leg, an in-process app, API helpers."""
