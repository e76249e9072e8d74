"""The panel-client interface: what provisioning asks of any VPN panel, in its own terms.

Each panel type (Marzban today) is one module that implements :class:`PanelClient`;
nothing outside that module knows the panel's field names, paths or quirks. Errors say
what the caller can do: :class:`PanelUnavailable` (try again later; its kinds
:class:`PanelIncompatible` and :class:`PanelCredentialsRefused` wait for an operator) and
:class:`PanelRejected` (this request is refused: repeating it unchanged will not help).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


class PanelError(Exception):
    """Any failure talking to a panel."""


class PanelUnavailable(PanelError):
    """The panel did not answer usefully (5xx, timeout, network, a body that is not the
    API's): try again later."""


class PanelRejected(PanelError):
    """The panel refused the request (4xx): repeating it unchanged will not help."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class UserExists(PanelRejected):
    """A create found a user of that name there already."""


class PanelIncompatible(PanelUnavailable):
    """The panel reports a version this client does not speak; nothing is written to it.
    Work for it waits (or moves elsewhere) until an operator upgrades one or the other."""


class PanelCredentialsRefused(PanelUnavailable):
    """The panel refused our credentials (rotated, or the admin lost its rights): work
    for it waits until an operator gives the panel's new secret."""


@dataclass(frozen=True, slots=True)
class PanelUser:
    """A user as a panel has it."""

    username: str
    status: str
    """``active``, ``limited``, ``expired``, ``disabled`` or ``on_hold``."""
    expires_at: int | None
    """Unix seconds; None: never."""
    traffic_limit_bytes: int | None
    """None: unlimited."""
    subscription_url: str
    links: tuple[str, ...]
    used_traffic_bytes: int = 0
    """Bytes used since the panel last reset the user's usage."""
    traffic_reset: str = "none"
    """When the panel starts the allowance again by itself: ``none`` or ``month``
    (``other`` for a strategy the platform does not set)."""
    protocols: tuple[str, ...] = ()
    """The protocols the user has credentials for."""


@dataclass(frozen=True, slots=True)
class DesiredUser:
    """What a panel user should look like; ``0`` means unlimited.

    ``status`` is ``active``, or ``disabled`` for a user whose paid access is over before
    its expiry came (a refund) or whom billing suspended.
    """

    username: str
    expires_at: int
    traffic_limit_bytes: int
    note: str
    status: str = "active"
    traffic_reset: str = "none"
    """``none``: one allowance for the period; ``month``: the panel resets the usage every
    month."""
    protocols: tuple[str, ...] = ()
    """The protocols the user has (the customer's choice): given on create, changed on
    modify; empty: every protocol the panel is configured with, and left as they are."""

    @property
    def active(self) -> bool:
        return self.status == "active"

    def matches(self, user: PanelUser) -> bool:
        return (
            # Active as desired, or limited by the panel: its traffic ran out, which no
            # change of expiry or status undoes.
            (user.status == self.status or (self.active and user.status == "limited"))
            and (user.expires_at or 0) == self.expires_at
            and (user.traffic_limit_bytes or 0) == self.traffic_limit_bytes
            and user.traffic_reset == self.traffic_reset
            and (not self.protocols or set(user.protocols) == set(self.protocols))
        )


@dataclass(frozen=True, slots=True)
class NodeState:
    """One of the places a panel serves its users from (Marzban's marzban-node)."""

    name: str
    address: str
    status: str
    """``connected``, or a reason it is not (``connecting``, ``error``, ``disabled``)."""
    message: str | None = None

    @property
    def serving(self) -> bool:
        return self.status == "connected"


@dataclass(frozen=True, slots=True)
class PanelProbe:
    """What a health probe learnt: the panel answered, as this version, with these."""

    version: str
    users: int
    protocols: frozenset[str]
    """Protocols the panel has at least one inbound for."""
    nodes: tuple[NodeState, ...] = field(default=())
    """Its nodes besides the panel's own core; none for a single-server panel."""

    @property
    def nodes_down(self) -> tuple[NodeState, ...]:
        return tuple(node for node in self.nodes if not node.serving and node.status != "disabled")


class PanelClient(Protocol):
    """What provisioning needs from a panel, whatever its type."""

    kind: ClassVar[str]
    """The panel type, as the ``panels`` table names it (``marzban``)."""

    async def probe(self) -> PanelProbe:
        """Log in and read the panel's version, inbounds and nodes; raises
        :class:`PanelIncompatible` for a version this client does not speak."""
        ...

    async def get_user(self, username: str) -> PanelUser | None: ...

    async def create_user(self, desired: DesiredUser) -> PanelUser:
        """Raises :class:`UserExists` when the name is taken (the caller adopts it)."""
        ...

    async def modify_user(self, desired: DesiredUser) -> PanelUser | None:
        """Set expiry, limit, reset and status, keeping credentials, and the protocols
        when ``desired`` names them (kept ones keep their credentials); None if there is
        no such user."""
        ...

    async def set_status(self, username: str, status: str) -> PanelUser | None:
        """Enable (``active``) or disable (``disabled``) a user, changing nothing else;
        None if there is no such user."""
        ...

    async def set_protocols(self, username: str, protocols: Sequence[str]) -> PanelUser | None:
        """Give the user credentials for exactly these protocols, keeping those it has for
        the ones it keeps; None if there is no such user."""
        ...

    async def reset_usage(self, username: str) -> PanelUser | None:
        """Start the user's traffic count again from zero; None if there is no such user."""
        ...

    async def delete_user(self, username: str) -> bool:
        """Remove the user and its links; False if there was no such user."""
        ...

    async def list_users(self, *, offset: int, limit: int) -> tuple[list[PanelUser], int]:
        """One page of the panel's users, in the panel's order, and how many there are."""
        ...

    async def aclose(self) -> None: ...
