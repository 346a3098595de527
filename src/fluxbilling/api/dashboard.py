"""`GET /api/v1/dashboard`: runs by phase and bucket, orders by state, and the alarm list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from fluxbilling.api.auth import require_token
from fluxbilling.api.orders import LinkOut
from fluxbilling.api.rows import Row, Timestamp
from fluxbilling.orders import dashboard
from fluxbilling.orders.dashboard import AlarmKind
from fluxbilling.orders.lifecycle import OrderState
from fluxbilling.orders.pipeline import Phase

__all__ = ["DashboardOut", "router"]

router = APIRouter(
    prefix="/api/v1/dashboard", tags=["dashboard"], dependencies=[Depends(require_token)]
)


class PhaseCountsOut(Row):
    """Provisioning runs standing at one phase, by bucket."""

    phase: Phase
    running: int = Field(description="a worker is executing it")
    waiting: int = Field(description="queued: for a worker, a retry's backoff or a Pending check")
    failed: int = Field(description="stopped; an operator acts")
    parked: int = Field(description="no capacity: the run waits for a host and retries itself")


class StateCountOut(Row):
    """Orders in one state."""

    state: OrderState
    count: int


class AlarmCountOut(Row):
    """Alarms of one kind (the whole number; the list is bounded)."""

    kind: AlarmKind
    count: int


class AlarmOut(Row):
    """One thing to look at, and what it links to."""

    kind: AlarmKind
    message: str
    since: Timestamp | None = Field(
        description="since when it holds (an order: when its threshold passed; a delivery: "
        "when it was received; a host: unknown)"
    )
    link: LinkOut = Field(description="the order, delivery or host it is about")


class DashboardOut(Row):
    """What the dashboard shows, judged by the database clock at `now`."""

    now: Timestamp
    phases: list[PhaseCountsOut] = Field(description="every provisioning phase, in order")
    states: list[StateCountOut] = Field(description="every order state, in order")
    alarm_counts: list[AlarmCountOut]
    alarms: list[AlarmOut] = Field(
        description=f"at most {dashboard.ALARMS_PER_KIND} of each kind; deliveries of the "
        f"last {int(dashboard.DELIVERY_WINDOW.total_seconds() // 3600)} hours"
    )


@router.get("", summary="Runs by phase and bucket, orders by state, and the alarm list")
async def get_dashboard(request: Request) -> DashboardOut:
    """Alarms: paid orders not active after their product's `alarm_after_minutes` (else
    `FLUXBILLING_ALARM_AFTER_MINUTES`), deliveries deferred, rejected or quarantined lately,
    hosts quarantined."""
    installation = request.app.state.installation
    board = await dashboard.load(
        installation.db, default_alarm_minutes=installation.settings.alarm_after_minutes
    )
    return DashboardOut(
        now=board.now,
        phases=[PhaseCountsOut.model_validate(p) for p in board.phases],
        states=[StateCountOut(state=s, count=n) for s, n in board.states.items()],
        alarm_counts=[AlarmCountOut(kind=k, count=n) for k, n in board.alarm_counts.items()],
        alarms=[AlarmOut.model_validate(a) for a in board.alarms],
    )
