"""A matcher's verdict: which exception category, about what, and why, in words a clerk can act on."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from reconstream.models.exceptions import Category


@dataclass(frozen=True, slots=True)
class Finding:
    category: Category
    refs: tuple[str, ...]
    reason: str
    amount: Decimal | None = None
    currency: str | None = None


def fmt(amount: Decimal, currency: str) -> str:
    return f"{amount:,} {currency}"
