"""Domain events: a lower app says what happened, higher apps react (DESIGN.md §3).

The app that makes a change defines its events (dataclasses deriving from `Event`) and calls
`publish()` inside the transaction that made the change. An app that reacts registers a
handler in its AppConfig.ready() with `subscribe()`; the publisher never imports it.

Handlers run at once, synchronously, inside the publisher's transaction and under whatever
locks it holds, in the order they subscribed: what a handler writes commits or rolls back
with the change that caused it, and a handler that raises fails the publisher's
transaction. A handler whose work must wait for the commit (a Celery task) queues it with
`transaction.on_commit`, as any code does.

Why not `django.dispatch`: a Signal keeps its receivers as weak references by default (a
handler defined in a function silently disappears), passes untyped keyword arguments keyed by
a sender, and its `send_robust` invites swallowing a handler's error; an event here is one
typed value whose handlers are held for good and fail the transaction loudly. That takes the
few lines below, so no library is worth it.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar


class Event:
    """The base of every domain event (a frozen dataclass of plain values)."""


E = TypeVar("E", bound=Event)
_handlers: dict[type[Event], list[Callable]] = defaultdict(list)


def subscribe(event_type: type[E], handler: Callable[[E], None]) -> None:
    """Calls `handler(event)` for each `event_type` published from now on (registered once,
    however often an AppConfig.ready() runs)."""
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)


def publish(event: Event) -> None:
    """Runs every handler of the event's type now, in this transaction (see the module's doc)."""
    for handler in tuple(_handlers.get(type(event), ())):
        handler(event)


def subscribers(event_type: type[Event]) -> tuple[Callable, ...]:
    """The handlers of `event_type`, in the order they run."""
    return tuple(_handlers.get(event_type, ()))
