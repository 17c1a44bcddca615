"""Payment runs, bank acknowledgments (pain.002) and settlements (camt.054), with treasury anomalies.

The whole payment side is planned before anything is written: whether a settlement may leave out its
end-to-end id depends on which other payments are still open when it is booked.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from random import Random
from typing import Any

from reconstream.models.errors import InvariantBroken
from reconstream.models.events import Stream
from reconstream.models.exceptions import Category

from . import rates
from .ap_events import money
from .clock import DAY, HOUR, MINUTE, Formatter, at, to_date
from .documents import Doc
from .journal import Journal
from .labels import Planting
from .master_data import CompanyCode, VendorMaster, VendorProfile, make_iban
from .names import vendor_name

NEVER = 1 << 62
RUN_WEEKDAYS = (0, 2)  # Monday and Wednesday: settlements 1-2 days later stay on bank working days
RUN_HOUR = 9
_REJECT_REASONS = (
    ("AC01", "incorrect account number"),
    ("AC04", "closed account number"),
    ("AC06", "blocked account"),
    ("AM04", "insufficient funds"),
    ("MS03", "reason not specified"),
    ("RR04", "regulatory reason"),
)


@dataclass(slots=True, eq=False)
class Instruction:
    e2e: str
    docs: list[Doc]
    vendor: VendorProfile
    amount: int
    creditor_iban: str
    batch: Batch
    plant: Category | None = None
    retry: bool = False  # pays again what the bank rejected
    acked: bool = True
    status: str = "ACSP"  # the bank's final word on it
    reason: tuple[str, str] | None = None
    settles: bool = True
    charges: int = 0  # deducted by the bank from the booked amount
    ack_ts: int = NEVER
    settle_ts: int = NEVER
    closed_ts: int = NEVER  # no longer a candidate for settlement matching (settled or rejected)
    without_e2e: bool = False

    @property
    def key(self) -> tuple[str, int]:
        # What an end-to-end-less settlement is matched on (the currency follows the company code).
        return self.creditor_iban, self.amount


@dataclass(slots=True, eq=False)
class Batch:
    batch_id: str
    company: CompanyCode
    run: int
    ts: int
    correlation_id: str
    instructions: list[Instruction] = field(default_factory=list)
    acks: list[tuple[int, str]] = field(default_factory=list)  # (time, "actc" | "group" | "explicit")
    group_status: str = "ACSP"

    @property
    def execution_date(self) -> date:
        return to_date(self.ts)


class PaymentDesk:
    def __init__(self, rng: Random, master: VendorMaster, start: date, end: date, known_ibans: dict[str, None]) -> None:
        self.rng = rng
        self.master = master
        self.horizon = at(end)
        self.known_ibans = known_ibans
        days = (end - start).days
        self.runs = [
            at(start + timedelta(days=d), RUN_HOUR)
            for d in range(days)
            if (start + timedelta(days=d)).weekday() in RUN_WEEKDAYS
        ]
        self.company_index = {company.code: n for n, company in enumerate(master.companies)}
        self.batches: dict[tuple[int, str], Batch] = {}
        self.entry_serial = 0  # camt.054 entry references, unique across all house banks

    # -- planning ---------------------------------------------------------------------------------
    def batch_ts(self, run: int, company: CompanyCode) -> int:
        # Company codes run one after another, a few minutes apart.
        return self.runs[run] + self.company_index[company.code] * 7 * MINUTE

    def batch(self, run: int, company: CompanyCode) -> Batch:
        key = (run, company.code)
        found = self.batches.get(key)
        if found is None:
            ts = self.batch_ts(run, company)
            batch_id = f"PMT-{company.code}-{to_date(ts):%Y%m%d}"
            found = self.batches[key] = Batch(batch_id, company, run, ts, f"pr-{self.rng.getrandbits(64):016x}")
        return found

    def ordered(self) -> list[Batch]:
        return sorted(self.batches.values(), key=lambda b: (b.ts, b.batch_id))

    def add(self, batch: Batch, docs: list[Doc], iban: str | None = None) -> Instruction:
        vendor = docs[0].vendor
        if vendor is None:
            raise InvariantBroken(f"invoice {docs[0].number!r} paid to a vendor the master data does not have")
        if iban is None:
            iban = vendor.ibans[0] if len(vendor.ibans) == 1 or self.rng.random() < 0.75 else vendor.ibans[1]
        e2e = f"{batch.batch_id}-{len(batch.instructions) + 1:05d}"
        instruction = Instruction(e2e, docs, vendor, sum(d.gross for d in docs), iban, batch)
        batch.instructions.append(instruction)
        return instruction

    def plan(self, payable: list[Doc], counts: dict[Category, int]) -> None:
        self._schedule(payable)
        self._plant(counts)
        for batch in self.ordered():
            self._plan_acks(batch)
        self._plan_settlements()

    def _schedule(self, payable: list[Doc]) -> None:
        """Each booked invoice goes into the first run after posting, or the one after (payment terms)."""
        rng = self.rng
        due: dict[tuple[int, str], list[Doc]] = {}
        company_runs = {c.code: [self.batch_ts(r, c) for r in range(len(self.runs))] for c in self.master.companies}
        for doc in payable:
            if doc.posted_ts is None:
                raise InvariantBroken(f"invoice {doc.number!r} scheduled for payment before it was posted")
            run = bisect_left(company_runs[doc.company.code], doc.posted_ts + 30 * MINUTE)
            if rng.random() < 0.25:
                run += 1
            if run < len(self.runs):
                due.setdefault((run, doc.company.code), []).append(doc)
        for run, code in sorted(due, key=lambda k: (k[0], self.company_index[k[1]])):
            docs = due[(run, code)]
            batch = self.batch(run, docs[0].company)
            by_vendor: dict[str, list[Doc]] = {}
            for doc in docs:
                by_vendor.setdefault(doc.vendor_id, []).append(doc)
            for vendor_docs in by_vendor.values():
                self._instructions(batch, vendor_docs)

    def _instructions(self, batch: Batch, docs: list[Doc]) -> None:
        # Several open invoices of one vendor often leave as one transfer; look-alikes stay on their own.
        rng = self.rng
        groupable = [d for d in docs if d.plain]
        single = [d for d in docs if not d.plain]
        i = 0
        if len(groupable) >= 2 and rng.random() < rates.VENDOR_PAID_IN_ONE:
            while len(groupable) - i >= 2:
                size = 3 if len(groupable) - i >= 3 and rng.random() < 0.4 else 2
                self.add(batch, groupable[i : i + size])
                i += size
                if rng.random() < 0.5:
                    break
        for doc in [*groupable[i:], *single]:
            self.add(batch, [doc])

    def _plant(self, counts: dict[Category, int]) -> None:
        rng, horizon = self.rng, self.horizon
        pool = [
            instruction
            for batch in self.ordered()
            for instruction in batch.instructions
            if len(instruction.docs) == 1 and instruction.docs[0].plain
        ]
        rng.shuffle(pool)
        last_run = len(self.runs) - 1
        rules: list[tuple[Category, Callable[[Instruction], bool], Callable[[Instruction], None]]] = [
            (Category.VENDOR_BANK_MISMATCH, lambda i: True, self._pay_elsewhere),
            (Category.DUPLICATE_PAYMENT, lambda i: i.batch.run < last_run, self._pay_twice),
            (Category.PAYMENT_REJECTED, lambda i: i.batch.ts <= horizon - DAY, self._reject),
            (Category.MISSING_ACK, lambda i: i.batch.ts <= horizon - 2 * DAY, self._lose_ack),
            (Category.MISSING_SETTLEMENT, lambda i: i.batch.ts <= horizon - 6 * DAY, self._lose_settlement),
            (
                Category.SETTLEMENT_AMOUNT_MISMATCH,
                lambda i: i.batch.ts <= horizon - 3 * DAY and i.amount >= 10_000,
                self._charge,
            ),
        ]
        used = [False] * len(pool)
        for category, eligible, apply in rules:
            wanted = counts[category]
            for n, instruction in enumerate(pool):
                if wanted == 0:
                    break
                if not used[n] and eligible(instruction):
                    used[n] = True
                    instruction.docs[0].plant = category  # one anomaly per document
                    apply(instruction)
                    wanted -= 1

    def _fresh_iban(self, country: str) -> str:
        while True:
            iban = make_iban(self.rng, country)
            if iban not in self.known_ibans:
                self.known_ibans[iban] = None
                return iban

    def _pay_elsewhere(self, instruction: Instruction) -> None:
        # A changed bank detail that never went through vendor master: the classic fraud pattern.
        instruction.creditor_iban = self._fresh_iban(instruction.vendor.country)
        instruction.plant = Category.VENDOR_BANK_MISMATCH

    def _pay_twice(self, instruction: Instruction) -> None:
        later = min(instruction.batch.run + self.rng.choice((1, 1, 2)), len(self.runs) - 1)
        again = self.add(self.batch(later, instruction.batch.company), instruction.docs, instruction.creditor_iban)
        again.plant = Category.DUPLICATE_PAYMENT

    def _reject(self, instruction: Instruction) -> None:
        instruction.plant = Category.PAYMENT_REJECTED
        instruction.status, instruction.reason, instruction.settles = "RJCT", self.rng.choice(_REJECT_REASONS), False
        retry_run = instruction.batch.run + 1
        if retry_run < len(self.runs) and self.rng.random() < rates.REPAY_AFTER_REJECTION:
            # The next run is days after the rejection arrived (within hours of its batch): a retry, not a duplicate.
            retry_batch = self.batch(retry_run, instruction.batch.company)
            self.add(retry_batch, instruction.docs, instruction.creditor_iban).retry = True

    def _lose_ack(self, instruction: Instruction) -> None:
        instruction.plant = Category.MISSING_ACK
        instruction.acked, instruction.settles = False, False

    def _lose_settlement(self, instruction: Instruction) -> None:
        instruction.plant = Category.MISSING_SETTLEMENT
        instruction.settles = False

    def _charge(self, instruction: Instruction) -> None:
        instruction.plant = Category.SETTLEMENT_AMOUNT_MISMATCH
        instruction.charges = self.rng.randint(500, 3500)

    def _plan_acks(self, batch: Batch) -> None:
        rng = self.rng
        silent = any(not i.acked for i in batch.instructions)
        rejected = any(i.status == "RJCT" for i in batch.instructions)
        holds_unsettled = any(i.plant is Category.MISSING_SETTLEMENT for i in batch.instructions)
        if silent or rejected:
            # Per-transaction statuses are the only way a pain.002 can leave one payment out or reject it.
            # A group-level ACTC first would acknowledge the silent one too.
            style = ["actc", "explicit"] if not silent and rng.random() < 0.25 else ["explicit"]
        else:
            roll = rng.random()
            style = ["group"] if roll < 0.7 else ["explicit"] if roll < 0.85 else ["actc", "group"]
        batch.group_status = "ACSP" if holds_unsettled or rng.random() < 0.7 else "ACCP"
        if len(style) == 2:
            first = batch.ts + 5 * MINUTE + int(rng.random() * 55 * MINUTE)
            final = batch.ts + HOUR + int(rng.random() * 5 * HOUR)
            batch.acks = [(first, style[0]), (final, style[1])]
        else:
            final = batch.ts + 5 * MINUTE + int(rng.random() * (6 * HOUR - 5 * MINUTE))
            batch.acks = [(final, style[0])]
        for instruction in batch.instructions:
            if not instruction.acked:
                continue
            if style[-1] == "explicit" and instruction.status != "RJCT":
                accepted = instruction.plant is Category.MISSING_SETTLEMENT or rng.random() < 0.85
                instruction.status = "ACSP" if accepted else "ACCP"
            elif style[-1] == "group":
                instruction.status = batch.group_status
            instruction.ack_ts = final if final < self.horizon else NEVER

    def _plan_settlements(self) -> None:
        rng = self.rng
        open_by_key: dict[tuple[str, int], list[Instruction]] = {}
        for batch in self.ordered():
            for instruction in batch.instructions:
                open_by_key.setdefault(instruction.key, []).append(instruction)
                if instruction.status == "RJCT":
                    instruction.closed_ts = instruction.ack_ts
                elif instruction.acked and instruction.settles:
                    # Booked the next or the second working day: within 0-2 days of the execution date.
                    instruction.settle_ts = batch.ts + 22 * HOUR + int(rng.random() * 24 * HOUR)
                    if instruction.settle_ts < self.horizon:
                        instruction.closed_ts = instruction.settle_ts
        for batch in self.ordered():
            for instruction in batch.instructions:
                if instruction.plant is not None or instruction.settle_ts >= self.horizon:
                    continue
                if rng.random() >= rates.SETTLEMENT_WITHOUT_E2E:
                    continue
                # Without an id the engine matches on creditor, currency and amount; only leave the id out
                # where no other open payment could answer to that description at booking time.
                when = instruction.settle_ts
                rivals = [
                    other
                    for other in open_by_key[instruction.key]
                    if other is not instruction and other.batch.ts <= when <= other.closed_ts
                ]
                instruction.without_e2e = not rivals

    # -- writing ----------------------------------------------------------------------------------
    def emit(self, journal: Journal, fmt: Formatter, planting: Planting) -> None:
        for batch in self.ordered():
            company = batch.company
            released = journal.add(
                Stream.PAYMENT_BATCHES,
                batch.ts,
                company.erp,
                self._batch_payload(batch, fmt),
                batch_correlation_id=batch.correlation_id,
            )
            if released is None:
                continue
            for instruction in batch.instructions:
                if instruction.plant in (Category.VENDOR_BANK_MISMATCH, Category.DUPLICATE_PAYMENT):
                    planting.plant(instruction.plant, instruction.e2e)
                elif instruction.plant is Category.MISSING_ACK:
                    planting.plant_if_overdue(Category.MISSING_ACK, instruction.e2e, batch.ts + DAY)
                if instruction.retry:
                    planting.lookalike("repayment_after_rejection")
            final_acked = False
            for n, (ts, style) in enumerate(batch.acks, start=1):
                payload = self._ack_payload(batch, n, style)
                acked = journal.add(Stream.BANK_ACKS, ts, company.bank, payload, None, batch.correlation_id)
                final_acked = acked is not None
            for instruction in batch.instructions:
                if final_acked and instruction.plant is Category.PAYMENT_REJECTED:
                    planting.plant(Category.PAYMENT_REJECTED, instruction.e2e)
                elif final_acked and instruction.plant is Category.MISSING_SETTLEMENT:
                    planting.plant_if_overdue(Category.MISSING_SETTLEMENT, instruction.e2e, batch.ts + 5 * DAY)
                if instruction.settle_ts >= self.horizon:
                    continue
                self.entry_serial += 1
                payload = self._settlement_payload(instruction, self.entry_serial, fmt)
                if journal.add(Stream.SETTLEMENTS, instruction.settle_ts, company.bank, payload) is None:
                    continue
                if instruction.plant is Category.SETTLEMENT_AMOUNT_MISMATCH:
                    planting.plant(Category.SETTLEMENT_AMOUNT_MISMATCH, instruction.e2e)
                if instruction.without_e2e:
                    planting.lookalike("settlement_without_e2e")

    def _batch_payload(self, batch: Batch, fmt: Formatter) -> dict[str, Any]:
        currency = batch.company.currency
        return {
            "batch_id": batch.batch_id,
            "payment_info_id": f"{batch.batch_id}-PI1",
            "company_code": batch.company.code,
            "debtor_iban": batch.company.debtor_iban,
            "requested_execution_date": fmt.date(batch.execution_date),
            "instructions": [
                {
                    "end_to_end_id": i.e2e,
                    "invoice_ids": [d.invoice_id for d in i.docs],
                    "vendor_id": i.vendor.vendor_id,
                    "amount": money(i.amount),
                    "currency": currency,
                    "creditor_name": i.vendor.name,
                    "creditor_iban": i.creditor_iban,
                    "remittance_info": ", ".join(d.number for d in i.docs)[:140],
                }
                for i in batch.instructions
            ],
        }

    def _ack_payload(self, batch: Batch, n: int, style: str) -> dict[str, Any]:
        payload: dict[str, Any] = {"ack_id": f"ACK-{batch.batch_id}-{n}", "original_batch_id": batch.batch_id}
        if style == "actc":
            payload["group_status"] = "ACTC"
        elif style == "group":
            payload["group_status"] = batch.group_status
        else:
            listed = [i for i in batch.instructions if i.acked]
            partial = len(listed) < len(batch.instructions) or any(i.status == "RJCT" for i in listed)
            payload["group_status"] = "PART" if partial else batch.group_status
            transactions = []
            for i in listed:
                transaction = {"end_to_end_id": i.e2e, "status": i.status}
                if i.reason is not None:
                    transaction["reason_code"], transaction["reason_text"] = i.reason
                transactions.append(transaction)
            payload["transactions"] = transactions
        return payload

    def _settlement_payload(self, instruction: Instruction, serial: int, fmt: Formatter) -> dict[str, Any]:
        company = instruction.batch.company
        booked = fmt.day(instruction.settle_ts)
        return {
            "entry_id": f"{company.country}{booked.replace('-', '')}{serial:08d}",
            "account_iban": company.debtor_iban,
            "amount": money(instruction.amount - instruction.charges),
            "currency": company.currency,
            "credit_debit": "DBIT",
            "booking_date": booked,
            "value_date": booked,
            "end_to_end_id": "NOTPROVIDED" if instruction.without_e2e else instruction.e2e,
            "counterparty_iban": instruction.creditor_iban,
            "counterparty_name": instruction.vendor.name,
            "remittance_info": ", ".join(d.number for d in instruction.docs)[:140],
        }

    def emit_unmatched(self, journal: Journal, fmt: Formatter, planting: Planting, count: int, start: date) -> None:
        """Debits nobody in AP initiated: a manual e-banking transfer, a direct debit, an unknown e2e id."""
        rng = self.rng
        days = (to_date(self.horizon) - start).days
        for n in range(1, count + 1):
            company = rng.choice(self.master.companies)
            day = start + timedelta(days=rng.randint(1, days - 1))
            ts = at(day, 7) + int(rng.random() * 12 * HOUR)
            self.entry_serial += 1
            booked = fmt.date(day)
            country = rng.choice(("DE", "FR", "GB", "NL", "AT"))
            entry_id = f"{company.country}{booked.replace('-', '')}{self.entry_serial:08d}"
            payload = {
                "entry_id": entry_id,
                "account_iban": company.debtor_iban,
                "amount": money(rng.randint(2_500, 999_999)),
                "currency": company.currency,
                "credit_debit": "DBIT",
                "booking_date": booked,
                "value_date": booked,
                "end_to_end_id": "NOTPROVIDED" if rng.random() < 0.5 else f"MANUAL-{booked.replace('-', '')}-{n:04d}",
                "counterparty_iban": self._fresh_iban(country),
                "counterparty_name": vendor_name(rng, country),
                "remittance_info": rng.choice(("Direct debit", "Urgent transfer", "Card settlement", "Fee")),
            }
            if journal.add(Stream.SETTLEMENTS, ts, company.bank, payload) is not None:
                planting.plant(Category.UNMATCHED_SETTLEMENT, entry_id)

    def emit_payroll_and_charges(self, journal: Journal, fmt: Formatter, start: date) -> None:
        """Lines every month has that pay no supplier invoice: the payroll run (ISO PMNT/ICDT/SALA with
        purpose SALA) and the bank's account charges (ACMT/MDOP/CHRG). They carry the codes banks send, so
        the engine routes them to the general ledger; they plant nothing (no exception is expected)."""
        days = (to_date(self.horizon) - start).days
        for index, company in enumerate(self.master.companies):
            for day, cents, code, purpose, text in (
                (min(24, days - 2), 4_000_000 + 100_000 * index, ("PMNT", "ICDT", "SALA"), "SALA", "SALARIES"),
                (min(27, days - 1), 2_350 + 100 * index, ("ACMT", "MDOP", "CHRG"), None, "ACCOUNT CHARGES"),
            ):
                booked = fmt.date(start + timedelta(days=day))
                self.entry_serial += 1
                entry_id = f"{company.country}{booked.replace('-', '')}{self.entry_serial:08d}"
                payload: dict[str, Any] = {
                    "entry_id": entry_id,
                    "account_iban": company.debtor_iban,
                    "amount": money(cents),
                    "currency": company.currency,
                    "credit_debit": "DBIT",
                    "booking_date": booked,
                    "value_date": booked,
                    "remittance_info": text,
                    "bank_transaction_code": dict(zip(("domain", "family", "subfamily"), code, strict=True)),
                    **({"purpose": purpose} if purpose else {}),
                }
                journal.add(
                    Stream.SETTLEMENTS, at(start + timedelta(days=day), 18), company.bank, payload, schema_version=2
                )
