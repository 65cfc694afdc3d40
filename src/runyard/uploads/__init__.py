"""Multipart uploads (contract section 4): files too large for one presigned PUT, sent in parts
that are each presigned on their own (``initiate`` → ``presign-parts`` → PUT each part →
``complete``), resumable through ``GET …/{upload_id}``. Session tokens only. A completed upload
becomes an ordinary input file (a ``StoredFile`` row, ``source="multipart"``) that runs accept
exactly like a presigned one."""
