"""Input files: the seed's presigned single PUT (``/r/files/presign``) and the file records
that runs validate against (team, key, declared size and type, expiry)."""
