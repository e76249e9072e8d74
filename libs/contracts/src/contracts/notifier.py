"""Commands addressed to the notifier by any service."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field, StrictInt, StrictStr

from contracts.envelope import Event
from contracts.topics import NOTIFIER_REQUESTS


class SendNotification(Event):
    """Tell a customer something, using one of the notifier's templates.

    Command from any service to the notifier, which renders the template in the customer's
    language and delivers it once per ``notification_id``.
    """

    event_type = "notifier.notification.requested.v1"
    topic = NOTIFIER_REQUESTS

    notification_id: UUID = Field(
        description=(
            "Chosen by the sender, deterministically from what it notifies about, so that a "
            "retried command is delivered once."
        )
    )
    customer_id: UUID = Field(description="The recipient.")
    template: str = Field(
        pattern=r"^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*$",
        max_length=128,
        description="Template name, e.g. `payment.succeeded` or `access.granted`.",
    )
    params: dict[str, StrictStr | StrictInt] = Field(
        default_factory=dict,
        description=(
            "Values the template refers to by name. Money is `amount_minor` with `currency`, "
            "times are ISO 8601 (`expires_at`), traffic is `traffic_limit_bytes`: the "
            "notifier formats them in the customer's language."
        ),
    )
    channel: Literal["telegram"] = Field(description="Delivery channel.")

    def key(self) -> str:
        return str(self.customer_id)
