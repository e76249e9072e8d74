"""The movable clock: the real time plus a file's offset, never running backwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chassis.clock import OffsetClock, SystemClock, clock_from
from chassis.settings import Environment, ServiceSettings


def test_without_a_file_it_is_the_real_time(tmp_path: Path) -> None:
    clock = OffsetClock(tmp_path / "missing")
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=1)
    assert isinstance(clock_from(None), SystemClock)


def test_moving_the_file_moves_every_clock_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    first, second = OffsetClock(path, reread_every_s=0), OffsetClock(path, reread_every_s=0)
    OffsetClock.move(path, timedelta(days=30))
    OffsetClock.move(path, timedelta(hours=1))
    expected = datetime.now(UTC) + timedelta(days=30, hours=1)
    for clock in (first, second):
        assert abs(clock.now() - expected) < timedelta(seconds=1)


def test_time_never_runs_backwards_in_a_process(tmp_path: Path) -> None:
    path = tmp_path / "clock"
    clock = OffsetClock(path, reread_every_s=0)
    OffsetClock.move(path, timedelta(days=1))
    later = clock.now()
    path.write_text("0\n")  # a test resetting its file
    assert clock.now() >= later


def test_production_refuses_a_movable_clock() -> None:
    with pytest.raises(ValueError, match="moves the clock"):
        ServiceSettings(environment=Environment.PRODUCTION, clock_file="/tmp/clock")
    assert ServiceSettings(clock_file="/tmp/clock").clock_file == "/tmp/clock"
