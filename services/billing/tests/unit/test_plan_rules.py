"""What a plan may promise: only what the panels can enforce."""

from __future__ import annotations

import pytest

from billing.plans import PlanDefinition, PlanRefusal
from contracts.money import Money


def plan(**changes: object) -> PlanDefinition:
    values: dict[str, object] = {
        "plan_id": "m1",
        "titles": {"en": "1 month"},
        "duration_days": 30,
        "duration_months": 1,
        "prices": (Money(amount_minor=34900, currency="RUB"),),
        "traffic_limit_bytes": 0,
        "traffic_carry_over": True,
        "traffic_reset": "none",
        "tier": 0,
        "active": True,
        "position": None,
    }
    return PlanDefinition(**(values | changes))  # type: ignore[arg-type]


def test_a_plan_without_promises_the_panels_cannot_keep_is_accepted() -> None:
    plan().check()
    plan(traffic_limit_bytes=50 * 2**30, traffic_carry_over=False, traffic_reset="month").check()


def test_a_device_limit_is_refused_since_marzban_cannot_enforce_it() -> None:
    with pytest.raises(PlanRefusal, match="a device limit cannot be enforced: Marzban"):
        plan(device_limit=3).check()


def test_carrying_traffic_over_a_monthly_reset_is_refused() -> None:
    with pytest.raises(PlanRefusal, match="carried over or reset monthly"):
        plan(traffic_carry_over=True, traffic_reset="month").check()
