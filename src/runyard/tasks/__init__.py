"""Tasks: submission of runs, the state machine, the event log, cancel and results."""
