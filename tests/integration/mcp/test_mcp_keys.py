"""The MCP endpoint in-process (JSON-RPC over the app): a key is checked on every request, so
a revoked integration key is refused on its next one, and a team's tools describe only its own
workflows."""

from __future__ import annotations

from typing import Any

from runyard.models import Agent
from tests.support.app import Harness, Team

HEADERS = {"Accept": "application/json, text/event-stream"}


async def rpc(h: Harness, key: str, method: str, params: dict[str, Any]) -> Any:
    return await h.client.post(
        "/mcp",
        headers={**HEADERS, "Authorization": f"Bearer {key}"},
        json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
    )


async def test_a_revoked_key_is_refused_on_its_next_request(harness: Harness, team_a: Team) -> None:
    created = await harness.client.post(
        "/api/v1/credentials",
        headers=team_a.auth(),
        json={"kind": "integration", "display_name": "assistant"},
    )
    key = created.json()
    first = await rpc(harness, key["raw_key"], "tools/call", {"name": "list_agents"})
    assert first.status_code == 200, first.text
    assert first.json()["result"]["structuredContent"]["agent_list"] == []
    revoke = await harness.client.delete(f"/api/v1/credentials/{key['id']}", headers=team_a.auth())
    assert revoke.status_code == 204
    after = await rpc(harness, key["raw_key"], "tools/list", {})
    assert after.status_code == 401 and after.json()["error_code"] == "credential_revoked"
    assert after.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_run_tool_lists_only_the_teams_workflows(
    harness: Harness, team_a: Team, team_b: Team
) -> None:
    imported = await harness.client.post(
        "/api/v1/workflows/import",
        headers=team_b.auth(),
        json={
            "workflow_slug": "only-in-beta",
            "tool_type": "python",
            "workflow_json": {"entrypoint": "m:f"},
            "parameters": [{"key": "n", "type": "number", "integer": True, "min": 1}],
        },
    )
    assert imported.status_code == 201, imported.text
    for team in (team_a, team_b):  # the run tool describes what a connected agent can run
        async with harness.app.state.services.db.unit() as uow:
            uow.session.add(
                Agent(team_id=team.id, agent_id="a", api_key_id="k", labels=["cpu"],
                      connected=True, healthy=True)
            )  # fmt: skip

    async def run_tool(team: Team) -> dict[str, Any]:
        r = await rpc(harness, team.p.integration_key, "tools/list", {})
        assert r.status_code == 200, r.text
        tools = {t["name"]: t for t in r.json()["result"]["tools"]}
        return dict(tools["run_workflow_by_slug"])

    beta, alpha = await run_tool(team_b), await run_tool(team_a)
    assert (
        "only-in-beta" in beta["description"] and "n (integer) [range 1..∞]" in beta["description"]
    )
    assert "only-in-beta" not in alpha["description"]
    assert "only-in-beta" not in str(alpha["inputSchema"])


async def test_get_and_delete_answer_405(harness: Harness, team_a: Team) -> None:
    """Stateless: no stream to offer on GET and no session to end on DELETE (the MCP spec's 405),
    so no request is left open."""
    for method in ("GET", "DELETE"):
        r = await harness.client.request(
            method, "/mcp", headers={**HEADERS, **team_a.auth("integration")}
        )
        assert r.status_code == 405 and r.json()["error_code"] == "method_not_allowed"
