"""Versioned workflows with typed parameters: import, update, runtime reads, run validation."""
