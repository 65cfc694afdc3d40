"""Live progress: the per-task event log (written by ``tasks.lifecycle``) served as a
replayable Server-Sent Events stream."""
