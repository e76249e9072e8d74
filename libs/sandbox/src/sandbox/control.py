"""What the emulators' control clients share."""

from __future__ import annotations


class SandboxControlError(Exception):
    """A sandbox's control API refused a request (or answered something unexpected)."""

    def __init__(self, status_code: int, body: object) -> None:
        super().__init__(f"sandbox control API answered {status_code}: {body}")
        self.status_code = status_code
        self.body = body
