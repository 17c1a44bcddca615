"""Ground truth of a scenario: what was planted, under which ref, and which look-alikes are in it."""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel
from reconstream.models.exceptions import Category


class PlantedLabel(BaseModel):
    category: str
    ref: str
    variant: str | None = None  # for a duplicate: how it differs from its original


class Labels(BaseModel):
    seed: int
    invoices: int
    events: int  # lines written, all files
    planted: list[PlantedLabel]
    counts: dict[str, int]
    lookalikes: dict[str, int]
    duplicate_variants: dict[str, int] = {}  # how the planted duplicates differ from their originals


class Planting:
    """Collects labels while the scenario is written.

    Timer-driven anomalies (missing ack or settlement, ERP timeout) are only anomalies if the engine's
    deadline passes before the last event of the scenario; they wait here until that time is known.
    """

    def __init__(self) -> None:
        self.planted: list[PlantedLabel] = []
        self._waiting: list[tuple[str, str, int]] = []
        self.lookalikes: dict[str, int] = {}

    def plant(self, category: Category | str, ref: str, variant: str | None = None) -> None:
        self.planted.append(PlantedLabel(category=str(category), ref=ref, variant=variant))

    def plant_if_overdue(self, category: Category, ref: str, deadline: int) -> None:
        self._waiting.append((str(category), ref, deadline))

    def lookalike(self, kind: str, n: int = 1) -> None:
        self.lookalikes[kind] = self.lookalikes.get(kind, 0) + n

    def close(self, last_event_ts: int) -> None:
        # The engine fires a timer once the watermark is strictly past its deadline.
        for category, ref, deadline in self._waiting:
            if deadline < last_event_ts:
                self.planted.append(PlantedLabel(category=category, ref=ref))
        self._waiting = []

    def labels(self, seed: int, invoices: int, events: int) -> Labels:
        counts = {category.value: 0 for category in Category}
        for label in self.planted:
            counts[label.category] += 1
        return Labels(
            seed=seed,
            invoices=invoices,
            events=events,
            planted=self.planted,
            counts=counts,
            lookalikes=dict(sorted(self.lookalikes.items())),
            duplicate_variants=dict(sorted(Counter(p.variant for p in self.planted if p.variant).items())),
        )
