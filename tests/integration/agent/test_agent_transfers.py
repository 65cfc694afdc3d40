"""The real agent (in-process) moving a task's files through a scripted server and a signed-URL
file store: outputs uploaded in order or sent inline when the welcome offers it, input URLs
renewed, refusals reported with their codes."""

from __future__ import annotations

import base64
import hashlib

import pytest

from runyard_protocol import (
    ErrorFrame,
    InputUrlRequest,
    OutputUrlRequest,
    TaskComplete,
    TaskFail,
)
from tests.integration.agent.conftest import ECHO


async def test_outputs_are_reported_in_order_with_their_names(
    server, store, start_agent, make_assign
):
    await start_agent()
    assign = make_assign(ECHO, inputs={"input_file": ("notes.txt", "text/plain", b"hello\n" * 999)})
    await server.assign(assign)
    complete = await server.wait_for(TaskComplete)
    assert [(o.output_id, o.file_name, o.content_type, o.file_size) for o in complete.outputs] == [
        ("file", "notes.txt", "text/plain", 6 * 999)
    ]
    assert store.objects[server.outputs[("task-1", "file")]] == b"hello\n" * 999
    # hashed while uploading: the sha256 of the bytes the store received
    assert complete.outputs[0].sha256 == hashlib.sha256(b"hello\n" * 999).hexdigest()


@pytest.mark.parametrize("offered", [0, 6 * 999, 6 * 999 - 1])
async def test_outputs_within_the_offered_size_go_inline(
    server, store, start_agent, make_assign, offered
):
    """With the welcome's ``inline_output_max``, an output of at most that size travels in the
    completion (no URL asked, no PUT); a larger one, or none offered, is uploaded."""
    server.inline_output_max = offered
    await start_agent()
    body = b"hello\n" * 999
    await server.assign(make_assign(ECHO, inputs={"input_file": ("notes.txt", "text/plain", body)}))
    complete = await server.wait_for(TaskComplete)
    (output,) = complete.outputs
    assert (output.output_id, output.file_name, output.file_size) == (
        "file",
        "notes.txt",
        len(body),
    )
    assert output.sha256 == hashlib.sha256(body).hexdigest()  # inline or uploaded
    if offered >= len(body):
        assert base64.b64decode(output.data or "") == body
        assert server.of_type(OutputUrlRequest) == []
        assert [m for m, _, _ in store.requests if m == "PUT"] == []
    else:
        assert output.data is None
        assert store.objects[server.outputs[("task-1", "file")]] == body


async def test_an_expired_input_url_is_renewed(server, store, start_agent, make_assign):
    await start_agent()
    assign = make_assign(
        ECHO, inputs={"input_file": ("a.bin", "application/zip", b"PK\x03\x04")}, expired=True
    )
    await server.assign(assign)
    await server.wait_for(TaskComplete)
    assert len(server.of_type(InputUrlRequest, task_id="task-1")) == 1
    assert store.count("GET", assign.inputs[0].file_key) == 2  # refused once, then fetched


async def test_a_refused_input_url_request_fails_the_task(server, store, start_agent, make_assign):
    await start_agent()
    assign = make_assign(ECHO, inputs={"input_file": ("a.txt", "text/plain", b"x")}, expired=True)
    del store.objects[assign.inputs[0].file_key]  # the fresh URL will 404
    await server.assign(assign)
    fail = await server.wait_for(TaskFail)
    assert fail.error_code == "input_download_failed"
    assert "input_file" in fail.error_message and "404" in fail.error_message
    assert "sig=" not in fail.error_message  # signed URLs never leak into messages


async def test_an_upload_refusal_fails_with_output_upload_failed(server, start_agent, make_assign):
    await start_agent()
    server.grant_outputs = False
    await server.assign(make_assign(ECHO, inputs={"input_file": ("a.txt", "text/plain", b"x")}))
    request = await server.wait_for(OutputUrlRequest)
    await server.send(
        ErrorFrame(
            error_code="output_too_large", error_message="too big", in_reply_to=request.request_id
        )
    )
    fail = await server.wait_for(TaskFail)
    assert (fail.error_code, fail.error_message) == (
        "output_upload_failed",
        "could not upload output 'file': too big",
    )
