"""Secret references: a panel's credentials are named in the database, never stored there.

``env:NAME`` reads the variable ``NAME`` of the service's environment (Kubernetes fills it
from a Secret); ``file:/path`` reads a file (a mounted Secret), without its trailing
newline. Resolved when a panel's client is built, so a rotated secret takes effect at the
next refresh of the panel directory.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

REFERENCE: Final = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)$")


class SecretMissing(Exception):
    """The reference names a variable that is unset or a file that cannot be read."""


def check_reference(reference: str) -> str:
    if REFERENCE.fullmatch(reference) is None:
        raise ValueError(
            f"not a secret reference: {reference!r} (env:NAME or file:/path, never the secret)"
        )
    return reference


def resolve(reference: str, environment: Mapping[str, str]) -> str:
    check_reference(reference)
    scheme, _, target = reference.partition(":")
    if scheme == "env":
        if target not in environment:
            raise SecretMissing(f"{reference}: the variable is not set")
        return environment[target]
    try:
        return Path(target).read_text(encoding="utf-8").rstrip("\n")
    except OSError as exc:
        raise SecretMissing(f"{reference}: {exc.strerror}") from exc
