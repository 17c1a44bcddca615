"""Technical noise on the feeds: events with a bad payload, garbage lines, and exact re-deliveries.

Bad events are extra documents nobody depends on, so refusing them never breaks a flow; garbage only
ever sits between lines; a re-delivery repeats a line byte for byte right behind it.
"""

from __future__ import annotations

from random import Random
from typing import Any

from reconstream.models.events import EVENT_TYPE_OF, Stream
from reconstream.models.exceptions import Category

from . import rates
from .ap_events import money
from .clock import DAY, Formatter
from .journal import Insert, Journal
from .labels import Planting
from .master_data import VendorMaster, make_iban
from .names import vendor_name

# Which defects each stream's payload can carry, and the required field a sender may drop.
_MONEY_FIELD: dict[Stream, str] = {
    Stream.INVOICES: "gross_amount",
    Stream.SETTLEMENTS: "amount",
    Stream.PURCHASE_ORDERS: "unit_price",
}
_REQUIRED: dict[Stream, str] = {
    Stream.VENDORS: "name",
    Stream.PURCHASE_ORDERS: "currency",
    Stream.GOODS_RECEIPTS: "po_number",
    Stream.INVOICES: "supplier_invoice_number",
    Stream.INVOICE_STATUS: "invoice_id",
    Stream.PAYMENT_BATCHES: "debtor_iban",
    Stream.BANK_ACKS: "original_batch_id",
    Stream.SETTLEMENTS: "account_iban",
}
_DEFECTS = ("negative_amount", "unknown_currency", "missing_field", "float_amount", "naive_event_time")
_PLAIN_TEXT = (
    b"ERROR 502 Bad Gateway: upstream ap-platform timed out",
    b"<html><body><h1>503 Service Unavailable</h1></body></html>",
    b"-- export interrupted, resuming at offset 0x3F2A --",
    b"Traceback (most recent call last): ConnectionResetError: [Errno 104] Connection reset by peer",
    b"#EOF",
)
_ARRAYS = (
    b'[{"event_id": "evt-batch-export", "payload": {}}]',
    b'["invoice.captured", 1, null]',
    b"[]",
)
_JUNK = (b"null", b"42", b'"ok"', b"true", b"}{", b",,,", b"\\N")


class Noise:
    def __init__(self, rng: Random, journal: Journal, fmt: Formatter, master: VendorMaster, planting: Planting) -> None:
        self.rng, self.journal, self.fmt, self.master, self.planting = rng, journal, fmt, master, planting

    # -- events with a valid envelope and a bad payload -------------------------------------------
    def schema_violations(self, count: int, start_ts: int) -> None:
        rng = self.rng
        for n in range(1, count + 1):
            defect = rng.choice(_DEFECTS)
            on_money = defect in ("negative_amount", "float_amount", "unknown_currency")
            stream = rng.choice(list(_MONEY_FIELD) if on_money else list(_REQUIRED))
            ts = start_ts + DAY + int(rng.random() * (self.journal.horizon - start_ts - 2 * DAY))
            payload = self._irrelevant_payload(stream, n, ts)
            event_id = self.journal.next_event_id(stream)
            envelope: dict[str, Any] = {
                "event_id": event_id,
                "event_type": EVENT_TYPE_OF[stream],
                "schema_version": 1,
                "source_system": "ap-platform" if stream in (Stream.INVOICES, Stream.INVOICE_STATUS) else "middleware",
                "event_time": self.fmt.instant(ts),
                "ingest_time": self.fmt.instant(ts + 30),
                "payload": payload,
            }
            self._break(defect, stream, envelope, ts)
            self.journal.add_raw(stream, ts, envelope)
            self.planting.plant(Category.SCHEMA_VIOLATION, event_id)

    def _break(self, defect: str, stream: Stream, envelope: dict[str, Any], ts: int) -> None:
        payload = envelope["payload"]
        target = payload["lines"][0] if stream is Stream.PURCHASE_ORDERS else payload
        if defect == "negative_amount":
            target[_MONEY_FIELD[stream]] = "-" + target[_MONEY_FIELD[stream]]
        elif defect == "float_amount":
            # What a sender's JSON library does with a float: exactness already lost before we see it.
            target[_MONEY_FIELD[stream]] = float(target[_MONEY_FIELD[stream]]) + 0.1
        elif defect == "unknown_currency":
            payload["currency"] = "XXX"
        elif defect == "missing_field":
            del payload[_REQUIRED[stream]]
        else:
            envelope["event_time"] = self.fmt.naive(ts)

    def _irrelevant_payload(self, stream: Stream, n: int, ts: int) -> dict[str, Any]:
        """A document of its own (ids outside every real sequence), so refusing it breaks no flow."""
        rng, fmt = self.rng, self.fmt
        company = rng.choice(self.master.companies)
        vendor = rng.choice(self.master.active)
        day = fmt.day(ts)
        net = rng.randint(1_000, 500_000)
        tax = net * company.tax_rate // 100
        if stream is Stream.VENDORS:
            return {
                "vendor_id": f"V8{n:05d}",
                "name": vendor_name(rng, company.country),
                "country": company.country,
                "bank_accounts": [{"iban": make_iban(rng, company.country)}],
                "active": True,
            }
        if stream is Stream.PURCHASE_ORDERS:
            return {
                "po_number": f"PO-49{n:08d}",
                "vendor_id": vendor.vendor_id,
                "company_code": company.code,
                "currency": company.currency,
                "order_date": day,
                "lines": [{"line_no": 1, "quantity": "5", "unit_price": money(net)}],
            }
        if stream is Stream.GOODS_RECEIPTS:
            return {
                "gr_number": f"GR-59{n:08d}",
                "po_number": f"PO-49{n:08d}",
                "receipt_date": day,
                "lines": [{"po_line_no": 1, "quantity": "5"}],
            }
        if stream is Stream.INVOICES:
            return {
                "invoice_id": f"AP-X{n:07d}",
                "supplier_invoice_number": f"X-{n:06d}",
                "vendor_id": vendor.vendor_id,
                "company_code": company.code,
                "invoice_date": day,
                "currency": company.currency,
                "net_amount": money(net),
                "tax_amount": money(tax),
                "gross_amount": money(net + tax),
            }
        if stream is Stream.INVOICE_STATUS:
            return {"invoice_id": f"AP-X{n:07d}", "status": "approved"}
        if stream is Stream.PAYMENT_BATCHES:
            return {
                "batch_id": f"PMT-X-{n:05d}",
                "company_code": company.code,
                "debtor_iban": company.debtor_iban,
                "requested_execution_date": day,
                "instructions": [
                    {
                        "end_to_end_id": f"PMT-X-{n:05d}-00001",
                        "invoice_ids": [f"AP-X{n:07d}"],
                        "vendor_id": vendor.vendor_id,
                        "amount": money(net),
                        "currency": company.currency,
                        "creditor_iban": vendor.ibans[0],
                    }
                ],
            }
        if stream is Stream.BANK_ACKS:
            return {"ack_id": f"ACK-X-{n:05d}", "original_batch_id": f"PMT-X-{n:05d}", "group_status": "ACSP"}
        return {
            "entry_id": f"XX{n:010d}",
            "account_iban": company.debtor_iban,
            "amount": money(net),
            "currency": company.currency,
            "credit_debit": "DBIT",
            "booking_date": day,
            "value_date": day,
            "end_to_end_id": "NOTPROVIDED",
        }

    # -- lines that are not events at all ---------------------------------------------------------
    def garbage(self, count: int) -> list[Insert]:
        rng, lines = self.rng, self.journal.lines
        streams = [stream for stream in Stream if len(lines[stream]) >= 2]
        inserts = []
        for _ in range(count):
            stream = rng.choice(streams)
            # Never first in a file: a garbage line sorts right after the line before it.
            position = rng.randint(1, len(lines[stream]) - 1)
            kind = rng.random()
            if kind < 0.4:
                raw = self._truncated(stream)
            elif kind < 0.65:
                raw = rng.choice(_PLAIN_TEXT)
            elif kind < 0.8:
                raw = rng.choice(_ARRAYS)
            else:
                raw = rng.choice(_JUNK)
            inserts.append(Insert(stream, position, raw, Category.MALFORMED_EVENT.value))
        return inserts

    def _truncated(self, stream: Stream) -> bytes:
        """A line cut off mid-write (a full disk, a killed exporter), at a character boundary."""
        rng = self.rng
        for _ in range(50):
            _, raw, valid = rng.choice(self.journal.lines[stream])
            if valid:
                break
        cut = rng.randint(10, len(raw) - 2)
        while cut > 1 and raw[cut] & 0xC0 == 0x80:  # never split a UTF-8 character
            cut -= 1
        return raw[:cut]

    def redeliveries(self) -> list[Insert]:
        """At-least-once delivery: the same event line twice; the engine must apply it once."""
        rng, lines = self.rng, self.journal.lines
        streams = [Stream.INVOICES, Stream.INVOICE_STATUS, Stream.GOODS_RECEIPTS, Stream.BANK_ACKS, Stream.SETTLEMENTS]
        streams = [stream for stream in streams if lines[stream]]
        total = sum(len(lines[stream]) for stream in streams)
        inserts = []
        for _ in range(max(2, round(total * rates.REDELIVERIES_PER_EVENT)) if total else 0):
            stream = rng.choice(streams)
            position = rng.randrange(len(lines[stream]))
            if lines[stream][position][2]:
                inserts.append(Insert(stream, position, None))
                self.planting.lookalike("redelivered_event")
        return inserts
