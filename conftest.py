"""Shared pytest setup: real PostgreSQL and Kafka fixtures, and no silent empty runs."""

from __future__ import annotations

import pytest

pytest_plugins = ["devstack.pytest_plugin"]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # A run that executed nothing proves nothing: fail it, including "everything skipped".
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    passed = len(reporter.stats.get("passed", [])) if reporter is not None else 0
    if exitstatus == 0 and passed == 0 and not session.config.option.collectonly:
        if reporter is not None:
            reporter.write_line(
                "ERROR: no test passed in this run; an empty run is a failure", red=True
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
