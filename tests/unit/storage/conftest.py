"""Unit tests of the storage package: pure functions and signers, no disk and no network."""
