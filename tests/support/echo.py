"""``python -m tests.support.echo PORT [EOF_PORT]``: plain TCP servers on 127.0.0.1 (the apps on
the agent's side of a tcp tunnel). On PORT, an echo; on EOF_PORT, a server that answers only
after the client shut its write side (reads to EOF, then sends back ``got N:`` and what it read,
then closes), like a request sent with ``nc -N``."""

from __future__ import annotations

import asyncio
import sys


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.close()


async def _after_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        data = await reader.read()  # to EOF
        writer.write(f"got {len(data)}:".encode())
        for start in range(0, len(data), 65536):
            writer.write(data[start : start + 65536])
            await writer.drain()
    finally:
        writer.close()


async def main(port: int, eof_port: int | None) -> None:
    servers = [await asyncio.start_server(_echo, "127.0.0.1", port)]
    if eof_port is not None:
        servers.append(await asyncio.start_server(_after_eof, "127.0.0.1", eof_port))
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else None))
