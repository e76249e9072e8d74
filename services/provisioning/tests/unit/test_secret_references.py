from pathlib import Path

import pytest

from provisioning.panels.secrets import SecretMissing, check_reference, resolve


def test_an_env_reference_reads_the_variable() -> None:
    assert resolve("env:PANEL_NL1", {"PANEL_NL1": "s3cret"}) == "s3cret"
    with pytest.raises(SecretMissing, match="not set"):
        resolve("env:PANEL_NL1", {})


def test_a_file_reference_reads_the_mounted_secret(tmp_path: Path) -> None:
    secret = tmp_path / "nl-1"
    secret.write_text("s3cret\n")
    assert resolve(f"file:{secret}", {}) == "s3cret"
    with pytest.raises(SecretMissing):
        resolve(f"file:{tmp_path / 'missing'}", {})


@pytest.mark.parametrize("reference", ["s3cret", "env:", "env:1X", "file:relative", "vault:x"])
def test_anything_else_is_refused_so_no_secret_is_stored_by_mistake(reference: str) -> None:
    with pytest.raises(ValueError, match="not a secret reference"):
        check_reference(reference)
