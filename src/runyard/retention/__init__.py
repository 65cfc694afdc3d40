"""Retention: the database is the one truth about what expired; the sweeper marks it, deletes
bytes the embedded store holds (S3 lifecycle rules delete bucket bytes), and prunes old rows."""
