"""One bot's update queue: ids, expiry, allowed_updates, and the bookkeeping of delivery.

getUpdates reads the queue from its head and confirms by offset; the webhook sender takes the
head of each delivery group (messages by chat, callback queries by user) so that each group
stays in order while different groups go out in parallel.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass

UPDATE_TYPES = (
    "message", "edited_message", "channel_post", "edited_channel_post", "inline_query",
    "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query", "poll",
    "poll_answer", "my_chat_member", "chat_member", "chat_join_request", "chat_boost",
    "removed_chat_boost", "message_reaction", "message_reaction_count", "business_connection",
    "business_message", "edited_business_message", "deleted_business_messages",
    "purchased_paid_media", "managed_bot", "guest_message",
)  # fmt: skip
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
MESSAGE_UPDATE_LIFETIME = 86400.0
QUERY_UPDATE_LIFETIME = 150.0
MAX_QUEUED_UPDATES = 100_000
FIRST_RETRY_CAP = 3600.0

DeliveryGroup = tuple[str, int]


def parse_allowed_updates(raw: str, current: frozenset[str]) -> frozenset[str]:
    """Absent or unusable keeps the setting; a list naming no known type means the default."""
    if raw.strip() == "":
        return current
    try:
        value = json.loads(raw)
    except ValueError:
        return current
    if not isinstance(value, list):
        return current
    known = {item.lower() for item in value if isinstance(item, str)} & set(UPDATE_TYPES)
    return frozenset(known) if known else DEFAULT_ALLOWED_UPDATES


def allowed_updates_json(allowed: frozenset[str]) -> list[str]:
    return [kind for kind in UPDATE_TYPES if kind in allowed]


class Signal:
    """Calls its listeners on notify; ``wait`` returns at the next notify."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[], None]] = []

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Adds a listener; returns the function that removes it."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def wait(self) -> None:
        event = asyncio.Event()
        unsubscribe = self.subscribe(event.set)
        try:
            await event.wait()
        finally:
            unsubscribe()


@dataclass
class QueuedUpdate:
    update_id: int
    kind: str
    body_json: str
    group: DeliveryGroup
    expires_at: float
    failures: int = 0
    retry_at: float = 0.0
    in_flight: bool = False

    def to_json(self) -> str:
        # The server writes a newline after the id; kept for clients that store raw bodies.
        return f'{{"update_id":{self.update_id},\n"{self.kind}":{self.body_json}}}'


class UpdateQueue:
    def __init__(self, first_update_id: int) -> None:
        self.next_update_id = first_update_id
        self.allowed = DEFAULT_ALLOWED_UPDATES
        self.arrived = Signal()
        self._pending: OrderedDict[int, QueuedUpdate] = OrderedDict()
        self._groups: dict[DeliveryGroup, deque[int]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def push(
        self, kind: str, body_json: str, group: DeliveryGroup, expires_at: float
    ) -> QueuedUpdate | None:
        """Queue an update, or drop it (None) when the bot does not take this type."""
        if kind not in self.allowed or len(self._pending) >= MAX_QUEUED_UPDATES:
            return None
        update = QueuedUpdate(self.next_update_id, kind, body_json, group, expires_at)
        self.next_update_id += 1
        self._pending[update.update_id] = update
        self._groups.setdefault(group, deque()).append(update.update_id)
        self.arrived.notify()
        return update

    def head(self, limit: int) -> list[QueuedUpdate]:
        updates: list[QueuedUpdate] = []
        for update in self._pending.values():
            if len(updates) >= limit:
                break
            updates.append(update)
        return updates

    def apply_offset(self, offset: int) -> None:
        """getUpdates' offset: confirm below it, keep the last -offset, ignore the far future."""
        if offset < 0:
            while len(self._pending) > -offset:
                self._remove(next(iter(self._pending)))
        elif 0 < offset <= self.next_update_id + 10:
            while self._pending and next(iter(self._pending)) < offset:
                self._remove(next(iter(self._pending)))

    def clear(self) -> None:
        self._pending.clear()
        self._groups.clear()

    def drop_expired(self, now: float) -> None:
        expired = [update_id for update_id, u in self._pending.items() if u.expires_at <= now]
        for update_id in expired:
            self._remove(update_id)

    def deliverable(self, now: float, busy: set[DeliveryGroup], room: int) -> list[QueuedUpdate]:
        """Heads of groups that are neither being delivered nor waiting for a retry."""
        chosen: list[QueuedUpdate] = []
        for group, ids in self._groups.items():
            if len(chosen) >= room:
                break
            head = self._pending[ids[0]]
            if group not in busy and not head.in_flight and head.retry_at <= now:
                chosen.append(head)
        return chosen

    def next_retry_at(self) -> float | None:
        waits = [
            self._pending[ids[0]].retry_at
            for ids in self._groups.values()
            if not self._pending[ids[0]].in_flight
        ]
        return min(waits, default=None)

    def delivered(self, update: QueuedUpdate) -> None:
        if update.update_id in self._pending:
            self._remove(update.update_id)

    def _remove(self, update_id: int) -> None:
        update = self._pending.pop(update_id)
        ids = self._groups[update.group]
        if ids[0] == update_id:
            ids.popleft()
        else:
            ids.remove(update_id)
        if not ids:
            del self._groups[update.group]


def retry_delay(failures: int, retry_after: float | None, cap: float) -> float:
    """Webhook retries: first at once (or after Retry-After), then 2, 4, 8 ... s up to cap."""
    if retry_after is not None and retry_after > 0:
        return min(retry_after, FIRST_RETRY_CAP)
    if failures <= 1:
        return 0.0
    return min(float(2 ** (failures - 1)), cap)
