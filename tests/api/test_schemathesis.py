"""schemathesis against the app's own /openapi.json: every operation, with generated valid and
invalid data, authenticated (an admin for `/v1/access`, the DPO elsewhere); no response is a
5xx, and every response matches the status, content type, headers and schema the document
declares. A stateful run follows the links the schema gives (a started run to its record, an
export to its job and pack).

The document is loaded at import, from an app over an installation that is never opened (the
document does not depend on the database); each test calls the app of its own installation
and world (`app=`). Examples per operation are bounded (`GDPR_SCHEMATHESIS_EXAMPLES`, default
15) so the suite stays fast; `.ci/run` runs this module on its own as well.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.openapi import from_asgi

from retention.api import create_app
from retention.audit import log as auditing
from retention.config import load_config
from retention.install import Installation
from retention.store import connect
from tests.access_support import World
from tests.api.conftest import unlimited

EXAMPLES = int(os.environ.get("GDPR_SCHEMATHESIS_EXAMPLES", "15"))


def _document_app() -> FastAPI:
    """An app only asked for its /openapi.json: its installation is never used."""
    data_dir = tempfile.mkdtemp(prefix="gdpr-openapi-")
    config = load_config(data_dir, "sqlite://", env={})
    return create_app(Installation(config, connect("sqlite://")))


schema = from_asgi("/openapi.json", _document_app())
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=True,
)
# A schema-valid request may still break a rule of the engine that no schema states (a proof
# beyond the log's size, a cursor no page gave, a date in the past, an unknown country code):
# that is 400 with the CLI's message. An update without `If-Match` (optional in the document,
# so that its absence is 428 as RFC 6585 says, not a validation error) or with a stale one is
# 428/412. Validation (422) of schema-valid data stays a failure.
_acceptance = schema.config.checks.positive_data_acceptance
_acceptance.expected_statuses = [*_acceptance.expected_statuses, "400", "412", "428"]


@dataclass(frozen=True)
class Live:
    app: FastAPI
    admin: str
    dpo: str


CURRENT: dict[str, Live] = {}  # the running test's app and tokens, for the auth provider


@schema.auth(refresh_interval=None)  # tokens change with every test's world: never cached
class Bearer:
    """An admin for /v1/access, the DPO elsewhere; schemathesis leaves the header out of the
    cases that test a missing one, and those must be 401."""

    def get(self, case: Any, context: Any) -> str:
        live = CURRENT.get("live")
        if live is None:  # asked while collecting, before any test's world exists
            return "gdpr_" + "0" * 43
        return live.admin if case.path.startswith("/v1/access") else live.dpo

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture
def live(installation: Installation, world: World) -> Iterator[Live]:
    auditing.create_signing_key(installation)
    auditing.sign_checkpoint(installation, world.clock)
    app = create_app(unlimited(installation), clock=world.clock)
    CURRENT["live"] = Live(app, world.admin.token, world.dpo.token)
    yield CURRENT["live"]
    CURRENT.clear()


@schema.parametrize()
@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_api(case: Any, live: Live) -> None:
    case.call_and_validate(app=live.app)


class Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences along the schema's links: a started sweep run to its record, an evidence
    export to its job and its pack, each response validated like the single calls."""

    def get_call_kwargs(self, case: Any) -> dict[str, Any]:
        # The state machine does not apply the auth provider itself: do it, unless the case
        # tests a missing Authorization header.
        kwargs: dict[str, Any] = {"app": CURRENT["live"].app}
        if not case.operation.schema.is_security_param_negated(case):
            kwargs["headers"] = {"Authorization": f"Bearer {Bearer().get(case, None)}"}
        return kwargs


def test_stateful_links(live: Live) -> None:
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
