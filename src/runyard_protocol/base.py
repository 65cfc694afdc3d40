"""The base of every JSON frame: unknown fields are ignored (a newer peer may add some), and a
frame never changes once built."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
