"""Nodes (``app/routers/node.py``, ``app/models/node.py``, ``xray/operations.connect_node``).

A real node is a ``marzban-node`` process the panel connects to in a background task; here
the connection is simulated. A connection attempt starts right after the answer that
scheduled it (as FastAPI's background tasks do) and is resolved lazily, on the next look
at the nodes, once ``connect_delay_s`` has passed: a reachable node becomes ``connected``
with its xray version, an unreachable one ``error`` with its message. The control API makes
a node unreachable or reachable again, and ``health_check`` is the panel's
``core_health_check`` job for nodes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pydantic import BaseModel, Field

from sandbox.marzban.errors import Conflict, NotFound, PanelCrash

MIN_NODE_VERSION = "v0.2.0"
CONNECTION_REFUSED = "[Errno 111] Connection refused"


class NodeStatus(str, Enum):  # noqa: UP042  # as the panel's, for the 422 wording
    connected = "connected"
    connecting = "connecting"
    error = "error"
    disabled = "disabled"


class NodeCreate(BaseModel):
    name: str
    address: str
    port: int = 62050
    api_port: int = 62051
    usage_coefficient: float = Field(gt=0, default=1.0)
    add_as_new_host: bool = True


class NodeModify(BaseModel):
    name: str | None = None
    address: str | None = None
    port: int | None = None
    api_port: int | None = None
    usage_coefficient: float | None = None  # no gt=0 here: upstream dropped it on modify
    status: NodeStatus | None = None


@dataclass
class NodeRecord:
    """A ``nodes`` row, plus what the sandbox pretends about the node process."""

    id: int
    name: str
    address: str
    port: int
    api_port: int
    usage_coefficient: float = 1.0
    status: NodeStatus = NodeStatus.connecting
    xray_version: str | None = None
    message: str | None = None
    # -- sandbox: the simulated node process and the pending connection attempt --
    reachable: bool = True
    failure: str = CONNECTION_REFUSED
    node_xray_version: str = "1.8.24"
    connect_started: bool = False
    connect_due: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """``NodeResponse``, in its key order."""
        return {
            "name": self.name,
            "address": self.address,
            "port": self.port,
            "api_port": self.api_port,
            "usage_coefficient": self.usage_coefficient,
            "id": self.id,
            "xray_version": self.xray_version,
            "status": self.status.value,
            "message": self.message,
        }

    def raw(self) -> dict[str, Any]:
        return {
            **self.as_dict(),
            "reachable": self.reachable,
            "failure": self.failure,
            "node_xray_version": self.node_xray_version,
            "connect_due": self.connect_due,
        }


def _self_signed_certificate() -> str:
    """What ``crud.get_tls_certificate`` holds: the panel's client certificate (RSA 4096 there,
    2048 here to keep it quick)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Gozargah")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=36500))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


UsageKey = tuple[int | None, dt.datetime]


@dataclass
class NodeRegistry:
    clock: Callable[[], float]
    connect_delay_s: float = 0.0
    xray_version: str = "1.8.24"
    nodes: dict[int, NodeRecord] = field(default_factory=dict)
    # node_usages rows: (node id or None for the master, hour) -> [uplink, downlink]
    usage: dict[UsageKey, list[int]] = field(default_factory=dict)
    _certificate: str | None = None

    @property
    def certificate(self) -> str:
        if self._certificate is None:
            self._certificate = _self_signed_certificate()
        return self._certificate

    def settings(self) -> dict[str, Any]:
        return {"min_node_version": MIN_NODE_VERSION, "certificate": self.certificate}

    def clear(self) -> None:
        self.nodes.clear()
        self.usage.clear()

    # -- crud ------------------------------------------------------------------------------

    def get(self, node_id: int) -> NodeRecord:
        """``get_dbnode``."""
        self.settle()
        node = self.nodes.get(node_id)
        if node is None:
            raise NotFound("Node not found")
        return node

    def all(self) -> list[NodeRecord]:
        self.settle()
        return list(self.nodes.values())

    def _next_id(self) -> int:
        # SQLite hands out max(rowid) + 1, so the id of a deleted last node comes back.
        return max(self.nodes, default=0) + 1

    def add(self, body: NodeCreate) -> NodeRecord:
        """``crud.create_node``: the usage coefficient is not copied, so it is always 1.0."""
        if any(node.name == body.name for node in self.nodes.values()):
            raise Conflict(f'Node "{body.name}" already exists')
        node = NodeRecord(
            id=self._next_id(),
            name=body.name,
            address=body.address,
            port=body.port,
            api_port=body.api_port,
            node_xray_version=self.xray_version,
        )
        self.nodes[node.id] = node
        self._schedule(node)
        return node

    def modify(self, node: NodeRecord, body: NodeModify) -> NodeRecord:
        """``crud.update_node``, then a reconnection unless disabled. The answer is the row as
        ``update_node`` left it: ``connecting`` with the old version and message, which the
        connection attempt clears."""
        if body.name is not None:
            if any(n.name == body.name and n.id != node.id for n in self.nodes.values()):
                # update_node does not catch the IntegrityError: a bare 500.
                raise PanelCrash(f"UNIQUE constraint failed: nodes.name ({body.name})")
            node.name = body.name
        if body.address is not None:
            node.address = body.address
        if body.port is not None:
            node.port = body.port
        if body.api_port is not None:
            node.api_port = body.api_port
        if body.status is NodeStatus.disabled:
            node.status = NodeStatus.disabled
            node.xray_version = None
            node.message = None
            node.connect_started = False
            node.connect_due = None
        else:
            node.status = NodeStatus.connecting
            self._schedule(node)
        if body.usage_coefficient:
            node.usage_coefficient = body.usage_coefficient
        return node

    def remove(self, node: NodeRecord) -> None:
        del self.nodes[node.id]
        # The usage rows lose their node (no delete cascade): they count as the master's.
        for (node_id, hour), (up, down) in list(self.usage.items()):
            if node_id == node.id:
                del self.usage[(node_id, hour)]
                self._add_usage(None, hour, up, down)

    def reconnect(self, node: NodeRecord) -> None:
        """``connect_node`` in the background: it does not look at the status first, so a
        disabled node gets connected too."""
        self._schedule(node)

    # -- the simulated connection ------------------------------------------------------------

    def _schedule(self, node: NodeRecord) -> None:
        node.connect_started = False
        node.connect_due = self.clock() + self.connect_delay_s

    def settle(self) -> None:
        """Run the connection attempts that have started since the last look."""
        now = self.clock()
        for node in self.nodes.values():
            if node.connect_due is None:
                continue
            if not node.connect_started:
                node.connect_started = True
                node.status, node.xray_version, node.message = NodeStatus.connecting, None, None
            if now >= node.connect_due:
                node.connect_due = None
                if node.reachable:
                    node.status = NodeStatus.connected
                    node.xray_version = node.node_xray_version
                else:
                    node.status = NodeStatus.error
                    node.message = node.failure

    def health_check(self, only: NodeRecord | None = None) -> None:
        """``core_health_check`` for nodes: one that is not connected is connected again,
        which for a node gone down ends in ``error``."""
        self.settle()
        for node in [only] if only is not None else list(self.nodes.values()):
            if node.status is NodeStatus.disabled or node.connect_due is not None:
                continue
            if node.status is NodeStatus.connected and node.reachable:
                continue
            if node.reachable:
                self._schedule(node)
            else:
                node.status, node.xray_version, node.message = (
                    NodeStatus.error,
                    None,
                    node.failure,
                )
        self.settle()

    def set_health(
        self,
        node_id: int,
        *,
        reachable: bool,
        message: str | None = None,
        xray_version: str | None = None,
    ) -> NodeRecord:
        node = self.get(node_id)
        node.reachable = reachable
        if message is not None:
            node.failure = message
        if xray_version is not None:
            node.node_xray_version = xray_version
        self.health_check(node)
        return node

    # -- usage -------------------------------------------------------------------------------

    def _add_usage(self, node_id: int | None, hour: dt.datetime, up: int, down: int) -> None:
        row = self.usage.setdefault((node_id, hour), [0, 0])
        row[0] += up
        row[1] += down

    def record_usage(self, node_id: int | None, hour: dt.datetime, up: int, down: int) -> None:
        """``record_node_usages``: the outbound traffic of the master or one node this hour."""
        self._add_usage(node_id, hour, up, down)

    def usages(self, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
        """``crud.get_nodes_usage``: the master first, then every node, by id."""
        self.settle()
        rows: dict[int | None, dict[str, Any]] = {
            None: {"node_id": None, "node_name": "Master", "uplink": 0, "downlink": 0}
        }
        for node in self.nodes.values():
            rows[node.id] = {"node_id": node.id, "node_name": node.name, "uplink": 0, "downlink": 0}
        for (node_id, hour), (up, down) in self.usage.items():
            if start <= hour <= end and node_id in rows:
                rows[node_id]["uplink"] += up
                rows[node_id]["downlink"] += down
        return list(rows.values())
