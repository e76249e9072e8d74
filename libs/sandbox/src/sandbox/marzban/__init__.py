"""A Marzban v0.8.4 panel emulator: the REST API, subscriptions and a control API for tests.

``create_app(MarzbanEmulator(...))`` gives the ASGI app; serve it with
``sandbox.server.serving`` and drive failures with ``MarzbanSandboxControl``.
"""

from sandbox.control import SandboxControlError
from sandbox.marzban.app import create_app
from sandbox.marzban.control import MarzbanSandboxControl
from sandbox.marzban.core import DEFAULT_INBOUNDS, CoreConfig, Inbound
from sandbox.marzban.emulator import MarzbanEmulator, StatusChange
from sandbox.marzban.records import AdminAccount, Caller, UserRecord
from sandbox.outage import Outage, OutageSwitch

__all__ = [
    "DEFAULT_INBOUNDS",
    "AdminAccount",
    "Caller",
    "CoreConfig",
    "Inbound",
    "MarzbanEmulator",
    "MarzbanSandboxControl",
    "Outage",
    "OutageSwitch",
    "SandboxControlError",
    "StatusChange",
    "UserRecord",
    "create_app",
]
