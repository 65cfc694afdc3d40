"""A flooding agent client in its own process (so its CPU does not skew the latencies the test
measures): ``python -m tests.support.flood <server url> <ak- key> <frames>`` connects, says
hello, sends ``frames`` ``task.input_url.v1`` frames naming random tasks, reads every answer
until all came back or the server closed, and prints ``{"answers": n, "close_code": c}``."""

from __future__ import annotations

import asyncio
import json
import sys
from uuid import uuid4

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from runyard_protocol import AgentHello, dump_frame


async def flood(url: str, key: str, frames: int) -> dict[str, int | None]:
    ws_url = url.replace("http", "ws", 1) + "/api/v1/agent/ws"
    async with connect(ws_url, additional_headers={"Authorization": f"Bearer {key}"}) as ws:
        hello = AgentHello(agent_id="flood", labels=["none"], capacity=1, agent_version="x")
        await ws.send(dump_frame(hello))
        assert json.loads(await ws.recv())["type"] == "server.welcome.v1"
        answers = 0

        async def read() -> None:
            nonlocal answers
            try:
                async for raw in ws:
                    frame = json.loads(raw)
                    if frame.get("in_reply_to") or "request_id" in frame:
                        answers += 1
                    if answers >= frames:
                        return
            except ConnectionClosed:
                pass

        reader = asyncio.create_task(read())
        try:
            for i in range(frames):
                frame = {
                    "type": "task.input_url.v1",
                    "request_id": str(i),
                    "task_id": str(uuid4()),
                    "attempt": 1,
                }
                await ws.send(json.dumps(frame))
        except ConnectionClosed:
            pass
        await asyncio.wait_for(reader, 120)
        return {"answers": answers, "close_code": ws.close_code}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(flood(sys.argv[1], sys.argv[2], int(sys.argv[3])))))
