"""The handle the parametrised storage tests get: which backend, and its ``Storage``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from runyard.storage.local import LocalStorage
from runyard.storage.s3 import S3Storage


@dataclass
class Backend:
    kind: Literal["local", "s3"]
    storage: LocalStorage | S3Storage

    @contextmanager
    def signing_in_the_past(self, seconds: float) -> Iterator[None]:
        """URLs signed inside the block look ``seconds`` old to the store that checks them."""
        signer = self.storage.signer
        real = signer.clock
        signer.clock = lambda: real() - seconds
        try:
            yield
        finally:
            signer.clock = real
