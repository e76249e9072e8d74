from typing import ClassVar

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from chassis.settings import SandboxCheck, ServiceSettings, sandbox_setting


class ShopSettings(ServiceSettings):
    service_name: ClassVar[str] = "shop"
    model_config = SettingsConfigDict(env_prefix="SHOP_")

    payment_provider: str = sandbox_setting(SandboxCheck.PROVIDER, default="yookassa")
    payment_api_url: str = sandbox_setting(SandboxCheck.URL, default="https://api.yookassa.ru/v3")
    payment_secret: SecretStr = sandbox_setting(SandboxCheck.TOKEN, default=SecretStr("live_abc"))


class TestProductionRefusesSandboxes:
    def test_real_settings_start_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SHOP_ENVIRONMENT", "production")
        assert ShopSettings().is_production

    @pytest.mark.parametrize(
        ("variable", "value"),
        [
            ("SHOP_PAYMENT_PROVIDER", "sandbox"),
            ("SHOP_PAYMENT_API_URL", "http://127.0.0.1:8443/v3"),
            ("SHOP_PAYMENT_API_URL", "http://localhost:9000"),
            ("SHOP_PAYMENT_API_URL", "https://yookassa.sandbox.example/v3"),
            ("SHOP_PAYMENT_SECRET", "test_Fh8hUAVVBGUGbjmlzba6TB0iyUbos_lueTHE"),
        ],
    )
    def test_names_the_wrong_setting(
        self, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
    ) -> None:
        monkeypatch.setenv("SHOP_ENVIRONMENT", "production")
        monkeypatch.setenv(variable, value)
        with pytest.raises(ValidationError) as raised:
            ShopSettings()
        # Only the messages are shown to an operator (chassis.cli), never the raw input.
        message = " ".join(error["msg"] for error in raised.value.errors())
        assert variable in message
        if variable.endswith("SECRET"):
            assert value not in message

    def test_sandboxes_are_fine_outside_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SHOP_PAYMENT_PROVIDER", "sandbox")
        monkeypatch.setenv("SHOP_PAYMENT_API_URL", "http://127.0.0.1:1")
        settings = ShopSettings()
        assert settings.sandbox_violations() == [
            "SHOP_PAYMENT_PROVIDER points at a sandbox (provider)",
            "SHOP_PAYMENT_API_URL points at a sandbox (url)",
        ]


def test_each_service_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    monkeypatch.setenv("OTHER_KAFKA_BOOTSTRAP", "elsewhere:9092")
    assert ShopSettings().kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
