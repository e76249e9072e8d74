"""What the benchmark scripts measure alike: a process's CPU time and the commit measured.

Imported by the scripts as a sibling module (``python bench/<script>.py`` puts ``bench/``
first on the path).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """CPU time of the process and its children (a service's workers); the driver's own
    process without them (its children are the broker and the database, counted apart)."""
    try:
        process = psutil.Process(pid)
        total = process.cpu_times().user + process.cpu_times().system
        if pid == os.getpid():
            return total
        for child in process.children(recursive=True):
            times = child.cpu_times()
            total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


def commit() -> str:
    """The commit measured, short; ``unknown`` outside a checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
