"""`/v1/sweep`: the dry-run plan, the record of runs, and starting a run in the background.

As `gdpr sweep`: the plan needs sweep:plan and is audited (`sweep.plan`) with its counts; a run
needs sweep:run. Starting one answers 202 with the run's id once the run holds the lease (one run
at a time across every process and host: a second start is 409 while one works) and, normally,
has registered itself, so that `GET /v1/sweep/runs/{id}` finds it at once; the sweep then works in
a thread of this server process, under the audit channel of the request that started it. When
the server stops, the run is asked to stop after its current batch (a stopped run's remaining
work is picked up by the next), and the server waits for it.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from retention.api.auth import PrincipalDep
from retention.api.background import Background, BackgroundDep, background_lifespan
from retention.api.pagination import DEFAULT_LIMIT, CursorQuery, LimitQuery, Page, decode_cursor
from retention.api.problems import ApiProblem, ProblemKind, problems
from retention.api.state import ClockDep, InstallationDep
from retention.countries import country_code
from retention.logs import get_logger
from retention.operations import (
    ListRuns,
    PlanSweep,
    RunView,
    ShowRun,
    StartedSweep,
    StartSweep,
    list_runs,
    plan_sweep,
    show_run,
    start_sweep,
)

__all__ = ["PlanOut", "RunOut", "RunStart", "RunStarted", "router", "run_in_background"]

log = get_logger("retention.api.sweep")

REGISTER_WAIT_S = 10.0  # how long a start waits for its run to register before answering


def run_in_background(
    background: Background, started: StartedSweep, *, wait_s: float = REGISTER_WAIT_S
) -> None:
    """Work on `started` in a thread; return once it registered (or failed before: raise that)."""
    registered = threading.Event()
    outcome: dict[str, Any] = {}

    def progress(handled: int, selected: int) -> None:
        outcome.setdefault("registered", True)
        registered.set()

    def work() -> None:
        try:
            result = started.run(background.stop, progress)
            log.info("sweep.background_done", run=str(started.run_id), status=result.status)
        except BaseException as exc:
            outcome["error"] = exc
            log.error("sweep.background_failed", run=str(started.run_id), error=type(exc).__name__)
        finally:
            registered.set()

    background.start(work, name=f"sweep-{started.run_id}")
    registered.wait(wait_s)
    error = outcome.get("error")
    if error is not None and "registered" not in outcome:
        raise error  # failed before it registered: the client hears why, as from the CLI


router = APIRouter(prefix="/sweep", tags=["sweep"], lifespan=background_lifespan)


def _country(value: str | None) -> str | None:
    return None if value is None else country_code(value, "country")


CountryQuery = Annotated[
    str | None,
    Query(
        min_length=2,
        max_length=2,
        description="Only this country's subjects (ISO 3166-1 alpha-2); omit for every country.",
    ),
]


class PlanRowOut(BaseModel):
    country: str
    policy: str
    rule: str
    action: str
    cite: str | None
    due: int
    held: int


class PlanErrorOut(BaseModel):
    country: str
    cause: str
    detail: str
    policy: str | None
    rule: str | None
    count: int


class PlanOut(BaseModel):
    """What a sweep now would do: due, held and undecidable subjects by country and rule."""

    evaluated_at: datetime
    policy_hash: str
    country: str | None
    subjects: int
    due: int
    held: int
    in_error: int
    by_action: dict[str, int]
    rows: list[PlanRowOut]
    errors: list[PlanErrorOut]


class RunOut(BaseModel):
    """One run: its status (running, completed, stopped, failed, interrupted) and counts."""

    id: uuid.UUID
    status: str
    actor: str
    owner: str
    evaluated_at: datetime
    started_at: datetime
    finished_at: datetime | None
    policy_hash: str
    country: str | None
    subject_limit: int | None
    batches: int
    acted: int
    anonymized: int
    deleted: int
    blocked: int
    reviewed: int
    files_removed: int
    resumes: uuid.UUID | None
    error: str | None = Field(description="The error's type when the run failed")

    @classmethod
    def of(cls, view: RunView) -> RunOut:
        fields = {name: getattr(view, name) for name in RunView.__dataclass_fields__}
        return cls(acted=view.acted, **fields)


class RunStart(BaseModel):
    """`gdpr sweep` options: one country, at most `limit` subjects."""

    model_config = ConfigDict(extra="forbid")

    country: str | None = Field(default=None, min_length=2, max_length=2)
    limit: int | None = Field(default=None, ge=1, le=100_000_000)


class RunStarted(BaseModel):
    run_id: uuid.UUID
    status: Literal["started"] = "started"


@router.get(
    "/plan",
    summary="The dry run: what a sweep now would do (sweep:plan; audited)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def get_plan(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    country: CountryQuery = None,
) -> PlanOut:
    plan = plan_sweep(installation, principal, PlanSweep(country=_country(country)), clock=clock)
    return PlanOut(
        evaluated_at=plan.evaluated_at,
        policy_hash=plan.policy_hash,
        country=plan.country,
        subjects=plan.subjects,
        due=plan.due,
        held=plan.held,
        in_error=plan.in_error,
        by_action=plan.by_action(),
        rows=[PlanRowOut.model_validate(r, from_attributes=True) for r in plan.rows],
        errors=[PlanErrorOut.model_validate(e, from_attributes=True) for e in plan.errors],
    )


@router.get(
    "/runs",
    summary="Sweep runs, newest first (sweep:plan)",
    responses=problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN),
)
def get_runs(
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    limit: LimitQuery = DEFAULT_LIMIT,
    cursor: CursorQuery = None,
) -> Page[RunOut]:
    position = decode_cursor(cursor)
    after = None
    if position is not None:
        try:
            after = uuid.UUID(str(position))
        except ValueError:
            raise ApiProblem(ProblemKind.BAD_REQUEST, "malformed cursor") from None
    views = list_runs(installation, principal, ListRuns(limit + 1, after), clock=clock)
    page: Page[RunOut] = Page.of([RunOut.of(v) for v in views], limit, lambda r: str(r.id))
    return page


@router.get(
    "/runs/{run_id}",
    operation_id="getSweepRun",
    summary="One sweep run with its counts (sweep:plan)",
    responses=problems(ProblemKind.FORBIDDEN, ProblemKind.NOT_FOUND),
)
def get_run(
    run_id: uuid.UUID,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
) -> RunOut:
    return RunOut.of(show_run(installation, principal, ShowRun(run_id), clock=clock))


@router.post(
    "/runs",
    operation_id="startSweepRun",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a sweep in the background (sweep:run; one at a time)",
    responses={
        **problems(ProblemKind.BAD_REQUEST, ProblemKind.FORBIDDEN, ProblemKind.CONFLICT),
        202: {
            "description": "Started; poll the run at the Location header",
            "links": {
                "GetRun": {
                    "operationId": "getSweepRun",
                    "parameters": {"run_id": "$response.body#/run_id"},
                }
            },
        },
    },
)
def post_run(
    body: RunStart,
    request: Request,
    response: Response,
    installation: InstallationDep,
    principal: PrincipalDep,
    clock: ClockDep,
    background: BackgroundDep,
) -> RunStarted:
    """202 once the run holds the lease; 409 while another run holds it."""
    start = StartSweep(country=_country(body.country), limit=body.limit)
    started = start_sweep(installation, principal, start, clock=clock)
    run_in_background(background, started)
    response.headers["Location"] = f"{request.url.path}/{started.run_id}"
    return RunStarted(run_id=started.run_id)
