"""What robots announce to the apps above them (core.events)."""

from dataclasses import dataclass

from core.events import Event


@dataclass(frozen=True)
class RobotsProduced(Event):
    """Robots were recorded, published inside the ingest transaction: `count` robots of the
    model-versions `serials` (e.g. {"R2-D2"}), none of them reserved yet."""

    serials: frozenset[str]
    count: int
