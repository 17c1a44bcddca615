"""Human-readable run summaries for the terminal (rich)."""

from __future__ import annotations

from reconstream.models.exceptions import ROUTING, Category
from rich.console import Console
from rich.table import Table

from .embedded import RunSummary


def print_summary(summary: RunSummary, console: Console) -> None:
    rate = summary.events / summary.seconds if summary.seconds else 0.0
    console.print(
        f"[bold]{summary.events:,}[/] input lines in {summary.seconds:.2f} s "
        f"([bold]{rate:,.0f}[/] events/s): "
        + ", ".join(f"{n:,} {outcome}" for outcome, n in sorted(summary.outcomes.items()))
    )
    console.print(
        f"{summary.matches:,} settlements matched "
        f"({', '.join(f'{n:,} by {method}' for method, n in summary.match_methods.most_common())}), "
        f"{sum(summary.line_classes.values()):,} bank lines routed by their codes "
        f"({', '.join(f'{n:,} {kind}' for kind, n in summary.line_classes.most_common())}), "
        f"{summary.status_updates:,} status updates for AP, "
        f"{summary.dead_letters:,} dead letters"
    )

    exceptions = Table(title="Exceptions by category and owner queue")
    for column in ("category", "kind", "owner queue", "count"):
        exceptions.add_column(column, justify="right" if column == "count" else "left")
    for category in Category:
        if summary.exceptions.get(category.value):
            kind, owner = ROUTING[category]
            exceptions.add_row(category.value, kind.value, owner.value, f"{summary.exceptions[category.value]:,}")
    console.print(exceptions)

    cash = Table(title="Cash positions")
    for column in ("account", "currency", "bank balance", "as of", "since", "booked", "in flight (out)", "projected"):
        cash.add_column(column, justify="left" if column in ("account", "currency", "as of") else "right")
    for position in summary.cash_positions:
        cash.add_row(
            position["account"],
            position["currency"],
            position.get("bank_balance", "-"),
            position.get("bank_balance_date", ""),
            position["movements_since"],
            position["booked_balance"],
            position["in_flight_outgoing"],
            position["projected_balance"],
        )
    console.print(cash)
