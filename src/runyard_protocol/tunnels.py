"""Tunnel streams multiplexed over the agent's WebSocket (see docs/agent-protocol.md, "Tunnels").

Control frames are JSON text frames like every other frame; the bytes of a stream travel as
**binary** WebSocket messages: a 4-byte big-endian stream id, then at most ``MAX_CHUNK`` bytes.
Each side may send a stream at most ``window`` bytes beyond what the other side has credited
back (``tunnel.credit.v1``), so a slow reader holds at most one window per stream in memory.
"""

from __future__ import annotations

import struct
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The most payload bytes one binary data message carries.
MAX_CHUNK = 64 * 1024
#: Bytes a side may send on a stream before the other credits some back.
DEFAULT_WINDOW = 512 * 1024
#: The most streams one connection may have open at once.
MAX_STREAMS = 256
_HEADER = struct.Struct(">I")


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TunnelOpen(_Frame):
    """Server -> agent: connect ``127.0.0.1:port`` and relay it as stream ``stream_id``."""

    type: Literal["tunnel.open.v1"] = "tunnel.open.v1"
    stream_id: int = Field(ge=1, lt=2**32)
    port: int = Field(ge=1, le=65535)
    tunnel_id: str = ""
    window: int = Field(default=DEFAULT_WINDOW, ge=MAX_CHUNK, le=16 * 1024 * 1024)


class TunnelOpened(_Frame):
    """Agent -> server: the answer to ``tunnel.open.v1``; ``ok: false`` names why not."""

    type: Literal["tunnel.opened.v1"] = "tunnel.opened.v1"
    stream_id: int = Field(ge=1, lt=2**32)
    ok: bool
    error_code: str | None = None
    error_message: str | None = None
    window: int = Field(default=DEFAULT_WINDOW, ge=MAX_CHUNK, le=16 * 1024 * 1024)


class TunnelCredit(_Frame):
    """Either way: the sender consumed ``bytes`` more of the stream; the peer may send them."""

    type: Literal["tunnel.credit.v1"] = "tunnel.credit.v1"
    stream_id: int = Field(ge=1, lt=2**32)
    bytes: int = Field(ge=1, le=16 * 1024 * 1024)


class TunnelClose(_Frame):
    """Either way: the stream is over (both directions). ``reason`` is shown to the user when
    the stream ended abnormally (the local port refused, the agent is going away…)."""

    type: Literal["tunnel.close.v1"] = "tunnel.close.v1"
    stream_id: int = Field(ge=1, lt=2**32)
    reason: str = Field(default="", max_length=500)


class TunnelEof(_Frame):
    """Either way: the sender will send no more bytes on the stream (it shut its write side,
    like TCP's FIN); the other direction keeps flowing until its own ``tunnel.eof.v1`` or a
    ``tunnel.close.v1``. Sent only to a peer that announced ``tunnel_half_close``."""

    type: Literal["tunnel.eof.v1"] = "tunnel.eof.v1"
    stream_id: int = Field(ge=1, lt=2**32)


TunnelFrame = TunnelOpen | TunnelOpened | TunnelCredit | TunnelClose | TunnelEof


def pack_data(stream_id: int, payload: bytes) -> bytes:
    """One binary data message: the stream id, then the payload (at most ``MAX_CHUNK``)."""
    if len(payload) > MAX_CHUNK:
        raise ValueError(f"a data message carries at most {MAX_CHUNK} bytes")
    return _HEADER.pack(stream_id) + payload


def unpack_data(message: bytes) -> tuple[int, bytes]:
    """``(stream_id, payload)`` of a binary data message; ``ValueError`` when malformed."""
    if len(message) < _HEADER.size or len(message) > _HEADER.size + MAX_CHUNK:
        raise ValueError("a tunnel data message is 4 to 4 + 65536 bytes long")
    (stream_id,) = _HEADER.unpack_from(message)
    return stream_id, message[_HEADER.size :]
