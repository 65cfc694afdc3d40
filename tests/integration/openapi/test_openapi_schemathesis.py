"""Property-based testing of the whole API against its own /openapi.json (schemathesis +
Hypothesis), on a real server: no 5xx, no status code the document does not declare, no
response that violates its schema. Three passes, as an integration key and as a session token:
schema-valid inputs, schema-*invalid* (hostile) inputs, and stateful sequences that follow the
links schemathesis infers between operations (import → get → update → delete, presign → run →
task → events...). Bounded in time by the number of examples: a few per operation by default;
``RUNYARD_FUZZ_EXAMPLES=2000`` makes the long run (well over 20,000 cases). (schemathesis'
pytest plugin does not run on this pytest, so the operations are driven directly.)"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)

from runyard.app import create_app
from runyard.bootstrap import provision
from runyard.db.engine import Database
from runyard.migrations import upgrade
from tests.support.app import make_settings
from tests.support.s3 import free_port

EXAMPLES = int(os.environ.get("RUNYARD_FUZZ_EXAMPLES", "8"))
# What a hostile input must never get: a 5xx, a status the document does not declare, a body
# that is not the documented one (the error shape included).
CONTRACT_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        pass


@dataclass(frozen=True)
class Live:
    url: str
    integration_key: str
    session_token: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    tmp: Path = tmp_path_factory.mktemp("openapi")
    db_url = f"sqlite+aiosqlite:///{tmp / 'api.db'}"
    upgrade(db_url)
    port = free_port()
    config = make_settings(db_url, tmp / "data")
    config.public_url = f"http://127.0.0.1:{port}"
    config.limits.login_attempts_per_minute = 1_000_000
    config.rate_limit.enabled = False  # the fuzzer sends far more than any client would

    async def bootstrap() -> str:
        db = Database(config.db)
        try:
            p = await provision(db, config, email="fuzz@example.com", password="fuzz-password")
            return p.integration_key
        finally:
            await db.dispose()

    key = asyncio.run(bootstrap())
    server = _Server(
        uvicorn.Config(create_app(config), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    token = httpx.post(
        f"{url}/api/v1/auth/login",
        json={"email_address": "fuzz@example.com", "user_password": "fuzz-password"},
    ).json()
    yield Live(url, key, token["access_token"])
    server.should_exit = True
    thread.join(10)


def fuzz(
    live: Live,
    token: str,
    skip: set[str],
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    failures: list[str] = []
    cases = 0
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.label in skip:
            continue

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            nonlocal cases
            cases += 1
            # Schema-valid bodies may still be refused by rules the schema cannot state (a run's
            # parameters depend on the workflow; a session in several teams needs X-Team-ID):
            # those answers must be documented error statuses, which the other checks verify.
            if mode is GenerationMode.POSITIVE:
                case.call_and_validate(
                    base_url=live.url,
                    headers={"Authorization": f"Bearer {token}"},
                    excluded_checks=[positive_data_acceptance],
                )
            else:
                case.call_and_validate(
                    base_url=live.url,
                    headers={"Authorization": f"Bearer {token}"},
                    checks=CONTRACT_CHECKS,
                )

        operations += 1
        try:
            check()
        except Unsatisfiable:
            continue  # nothing of this operation can be made invalid (GET /healthz)
        except Exception as exc:  # collect every operation's failure, then report them all
            nested = getattr(exc, "exceptions", ())  # Hypothesis wraps what each call raised
            detail = " | ".join(str(e)[:1500] for e in (exc, *nested))
            failures.append(f"{operation.label}: {detail}")
    print(f"schemathesis {mode.value}: {cases} cases over {operations} operations")
    return failures


def test_openapi_as_integration_key(live: Live) -> None:
    failures = fuzz(live, live.integration_key, set())
    assert not failures, "\n\n".join(failures)


def test_openapi_as_session(live: Live) -> None:
    # logout would end the session the other cases use; it is tested in tests/integration/api
    failures = fuzz(live, live.session_token, {"POST /api/v1/auth/logout"})
    assert not failures, "\n\n".join(failures)


def test_hostile_inputs_as_integration_key(live: Live) -> None:
    failures = fuzz(live, live.integration_key, set(), GenerationMode.NEGATIVE)
    assert not failures, "\n\n".join(failures)


def test_hostile_inputs_as_session(live: Live) -> None:
    failures = fuzz(live, live.session_token, {"POST /api/v1/auth/logout"}, GenerationMode.NEGATIVE)
    assert not failures, "\n\n".join(failures)


def test_stateful_sequences(live: Live) -> None:
    """Chains of calls along the inferred links, as both kinds of caller: what one operation
    created (a workflow, a file key, a task) is what the next one reads, changes or deletes."""
    schema = schemathesis.openapi.from_url(f"{live.url}/openapi.json")
    steps = 0
    for token in (live.integration_key, live.session_token):
        base = schema.as_state_machine()

        class Sequences(base):  # type: ignore[valid-type, misc]
            auth = {"Authorization": f"Bearer {token}"}

            def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, object]:
                return {"base_url": live.url, "headers": self.auth}

            def step(self, input: object) -> object:
                nonlocal steps
                steps += 1
                case = input.case  # type: ignore[attr-defined]
                if case.operation.label == "POST /api/v1/auth/logout":
                    return None  # would end the session every later step uses
                return super().step(input)

            def validate_response(
                self, response: object, case: schemathesis.Case, **kwargs: object
            ) -> None:
                case.validate_response(
                    response,  # type: ignore[arg-type]
                    checks=CONTRACT_CHECKS,
                    headers=self.auth,
                )

        Sequences.run(
            settings=settings(
                max_examples=EXAMPLES * 4,
                stateful_step_count=6,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
        )
    print(f"schemathesis stateful: {steps} calls along inferred links, both callers")


def test_operation_ids_are_stable_and_unique() -> None:
    """Hand-written operation ids (clients generate method names from them)."""
    from runyard.settings import Settings

    spec = create_app(Settings(environment="test", secret_key="x" * 40)).openapi()
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    assert all("__" not in i for i in ids), [i for i in ids if "__" in i]
    assert set(spec["components"]["securitySchemes"]) == {"HTTPBearer"}
