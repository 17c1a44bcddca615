"""ISO 11649 creditor references and invoice numbers in free remittance text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reconstream.matchers.remittance import (
    find_rf_references,
    is_valid_rf,
    mentions_invoice,
    number_mentions,
    rf_reference,
)
from reconstream.models.bank_details import ReferenceScheme
from reconstream.models.creditor_references import reference_scheme

_PAYLOAD = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=21)


def test_published_example_is_valid() -> None:
    assert rf_reference("539007547034") == "RF18539007547034"
    assert is_valid_rf("RF18 5390 0754 7034")
    assert is_valid_rf("rf18539007547034")


def test_wrong_check_digits_or_shape_are_refused() -> None:
    assert not is_valid_rf("RF19539007547034")
    assert not is_valid_rf("RF18539007547035")
    assert not is_valid_rf("RF18")
    assert not is_valid_rf("XX18539007547034")
    assert not is_valid_rf("RF18" + "1" * 22)


@pytest.mark.parametrize(
    ("printed", "valid"),
    [
        ("RF18 5390 0754 7034", True),  # ISO 11649's own example, as the EPC's SEPA rulebooks quote it
        ("RF18539007547034", True),
        ("rf18 5390 0754 7034", True),
        ("RF18-5390-0754-7034", True),  # python-stdnum strips dashes, dots, commas, slashes and colons
        ("RF18 5390 0754 70Y", True),  # python-stdnum's example with a letter in the payload
        ("RF17 5390 0754 7034", False),  # the same with wrong check digits
        ("RF18 5390 0754 7043", False),  # two payload digits swapped
        ("RF18٥39007٥47034", False),  # Arabic-Indic digits: python-stdnum alone would take them
        ("RF18", False),  # no payload
        ("RF18 5390 0754 7034 5678 9012 34", False),  # 22 payload characters, one more than ISO 11649 allows
    ],
)
def test_published_rf_examples(printed: str, valid: bool) -> None:
    assert is_valid_rf(printed) is valid
    assert (reference_scheme(printed) is ReferenceScheme.RF) is valid


@pytest.mark.parametrize(
    ("printed", "scheme"),
    [
        ("RF18 5390 0754 7034", ReferenceScheme.RF),
        ("21 00000 00003 13947 14300 09017", ReferenceScheme.CH_QR),  # SIX's QR-bill example reference
        ("21 00000 00003 13947 14300 09016", None),  # the same, last digit changed
        ("+++010/8068/17183+++", ReferenceScheme.BE_OGM),  # python-stdnum's Belgian structured communication
        ("+++010/8068/17180+++", None),
        ("RF00 1234", None),
    ],
)
def test_published_creditor_reference_examples_name_their_scheme(printed: str, scheme: ReferenceScheme | None) -> None:
    assert reference_scheme(printed) is scheme


@given(_PAYLOAD)
def test_every_generated_reference_round_trips(payload: str) -> None:
    reference = rf_reference(payload)
    assert is_valid_rf(reference)
    printed = " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))
    assert reference in find_rf_references(f"paid {printed} ok")
    assert find_rf_references(f"paid {printed}")[0] == reference  # longest first


@given(_PAYLOAD, st.integers(min_value=0, max_value=20), st.sampled_from("0123456789"))
def test_one_changed_digit_fails_the_check(payload: str, at: int, digit: str) -> None:
    reference = rf_reference(payload)
    position = 4 + at % (len(reference) - 4)
    changed = reference[:position] + digit + reference[position + 1 :]
    if changed != reference and reference[position].isdigit():
        assert not is_valid_rf(changed)


def test_reference_in_text_does_not_swallow_the_next_word() -> None:
    assert find_rf_references("Payment RF18 5390 0754 7034 INVOICE 42 thanks") == ["RF18539007547034"]
    assert find_rf_references("RF00 1234 is not a reference") == []


def test_invoice_numbers_found_however_the_payer_writes_them() -> None:
    mentions = number_mentions("Pmt inv nl 2026 00043 + RE 2026/4711, INV-000042")
    assert mentions_invoice(mentions, "NL-2026-00043")
    assert mentions_invoice(mentions, "RE 2026/4711")
    assert mentions_invoice(mentions, "INV 42")


def test_no_substring_matches_inside_other_numbers() -> None:
    mentions = number_mentions("Invoice 2026-4711 amount 1,042.00")
    assert not mentions_invoice(mentions, "RE 2026/47")
    assert not mentions_invoice(mentions, "4")  # too short to be evidence
    assert not mentions_invoice(mentions, "RE 2026/4712")
