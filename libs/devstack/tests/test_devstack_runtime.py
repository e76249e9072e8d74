"""What ``make up`` wires: every third party it may replace is a sandbox it serves, and a
real configuration in the shell wins over the sandbox's."""

from __future__ import annotations

from devstack.runtime import REAL_THIRD_PARTIES, SANDBOX_DEFAULTS, sandboxed_env
from devstack.sandboxes import Sandboxes


async def test_every_replaceable_third_party_is_a_served_sandbox() -> None:
    sandboxes = Sandboxes(gateway_url="http://127.0.0.1:9")
    await sandboxes.start()
    try:
        assert set(REAL_THIRD_PARTIES) <= set(sandboxes.urls)
        offered = sandboxes.service_env()
        for _, names in REAL_THIRD_PARTIES.values():
            assert set(names) <= set(offered), names
        assert set(SANDBOX_DEFAULTS) <= set(offered)
    finally:
        await sandboxes.stop()


def test_a_real_configuration_wins_over_the_sandbox() -> None:
    offered = {
        "BILLING_WATA_API_URL": "http://127.0.0.1:1/api/h2h",
        "BILLING_WATA_ACCESS_TOKEN": "sandbox",
        "BILLING_CRYPTOPAY_TOKEN": "sandbox",
        "BILLING_CRYPTOPAY_API_URL": "http://127.0.0.1:2/api",
        "BILLING_PAYMENT_METHODS": "yookassa,wata,cryptopay,wallet",
        "BILLING_BOT_URL": "https://t.me/sandbox_bot",
    }
    everything = sandboxed_env(offered, {})
    assert everything == offered
    real = sandboxed_env(
        offered, {"BILLING_WATA_ACCESS_TOKEN": "real", "BILLING_PAYMENT_METHODS": "wata"}
    )
    assert "BILLING_WATA_ACCESS_TOKEN" not in real
    assert "BILLING_WATA_API_URL" not in real
    assert "BILLING_PAYMENT_METHODS" not in real
    assert real["BILLING_CRYPTOPAY_TOKEN"] == "sandbox"
