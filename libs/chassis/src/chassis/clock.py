""" "Now", from one place: the real time in production, a time tests can move elsewhere.

Due times (``chassis.timers``) and the rules that compare against them take the time from
a :class:`Clock`. Outside production a service may be given ``<SERVICE>_CLOCK_FILE``: a
file holding a number of seconds added to the real time. An end-to-end test writes the
same file for every service and walks a subscription through a month in seconds; the
file is read again at most every few tenths of a second, so a move reaches every service
at once, and time never runs backwards within a process.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class OffsetClock:
    """The real time plus the offset a file says (seconds; missing or empty: none)."""

    def __init__(self, path: Path, *, reread_every_s: float = 0.2) -> None:
        self._path = path
        self._reread_every_s = reread_every_s
        self._offset = timedelta(0)
        self._read_at = -reread_every_s
        self._latest = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        if time.monotonic() - self._read_at >= self._reread_every_s:
            self._read_at = time.monotonic()
            self._offset = timedelta(seconds=self._read())
        # Moved back (a test that resets its file): held at the latest time given.
        self._latest = max(self._latest, datetime.now(UTC) + self._offset)
        return self._latest

    def _read(self) -> float:
        try:
            text = self._path.read_text().strip()
        except FileNotFoundError:
            return 0.0
        return float(text) if text else 0.0

    @staticmethod
    def move(path: Path, by: timedelta) -> None:
        """Move every clock reading ``path`` forward by ``by`` (for tests and tools)."""
        try:
            current = float(path.read_text().strip() or 0)
        except FileNotFoundError:
            current = 0.0
        temporary = path.with_suffix(".moving")
        temporary.write_text(f"{current + by.total_seconds()}\n")
        temporary.replace(path)  # readers see the old offset or the new one, never half


def clock_from(clock_file: str | None) -> Clock:
    return OffsetClock(Path(clock_file)) if clock_file else SystemClock()
