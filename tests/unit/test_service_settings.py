"""Each service reads its own prefix, validates its settings and names the wrong one."""

from __future__ import annotations

import subprocess
import sys

import pytest

from billing.settings import BillingSettings
from bot.settings import BotSettings
from chassis.settings import ServiceSettings
from gateway.settings import GatewaySettings
from notifier.settings import NotifierSettings
from provisioning.settings import ProvisioningSettings

SETTINGS: dict[str, tuple[type[ServiceSettings], int]] = {
    "gateway": (GatewaySettings, 8080),
    "bot": (BotSettings, 8081),
    "billing": (BillingSettings, 8082),
    "provisioning": (ProvisioningSettings, 8083),
    "notifier": (NotifierSettings, 8084),
}


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_prefix_and_default_port(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cls, port = SETTINGS[service]
    assert cls.service_name == service
    assert cls().http_port == port
    monkeypatch.setenv(f"{service.upper()}_HTTP_PORT", "9999")
    assert cls().http_port == 9999


@pytest.mark.parametrize("service", sorted(SETTINGS))
def test_check_config_names_the_wrong_variable(service: str) -> None:
    variable = f"{service.upper()}_HTTP_PORT"
    result = subprocess.run(
        [sys.executable, "-m", service, "check-config"],
        env={variable: "70000", "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert f"{variable}: Input should be less than or equal to 65535" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_panel_on_this_host_is_real_unless_it_is_said_to_be_a_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROVISIONING_ENVIRONMENT", "production")
    monkeypatch.setenv("PROVISIONING_MARZBAN_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("PROVISIONING_MARZBAN_PASSWORD", "a-real-secret")
    settings = ProvisioningSettings()
    assert settings.sandbox_violations() == []
    monkeypatch.setenv("PROVISIONING_MARZBAN_SANDBOX", "true")
    with pytest.raises(ValueError, match="production places no user on a sandbox"):
        ProvisioningSettings()
