"""The German `:86:` (DK layout) read into its parts, on fields as banks wrote them.

The `:86:` texts below are copied from public sample files (MIT: sandermarechal/jejik-mt940's Deutsche Bank
fixture, zilverline/mt940's Triodos and Rabobank fixtures, fruitl00p/php-mt940's Knab sample; Apache-2.0:
betterplace/mt940_parser's Dresdner Bank `sepa_mt9401.txt`), split into their physical lines as the files
have them.
"""

from __future__ import annotations

import pytest
from reconstream.shells.formats.mt940_info import read_info, wrapped

# Deutsche Bank: SEPA keywords one after another inside the ?2x pieces, "MREF+" cut by a line and the wrap.
DEUTSCHE_BANK = [
    "109?00SEPA-LASTSCHR. RETOURE CORE?109075/629?20EREF+A1.200080779.",
    "400143254?21.4961336 KREF+SEPA-DA202006?2201221740-34972000-P1 MR",
    "EF+2?230852HW2723821 CRED+DE41EON0?240000129793 OAMT+11,85 SVWZ+?",
    "25SONSTIGE GRUENDE ENDABRECHN?26UNG NR. 500106875 ZU VERTRA?2740",
    "0143254, KUNDENNUM MER 2?2802227779?30CSDBDE71XXX?31DE50712345600",
    "200691329?32TESTER?33EL",
]
# Dresdner Bank: an EREF+ value ended by another bank tag (MTLG:) starting the next piece, whose text wraps.
DRESDNER_RETURN = [
    "159?00RETOURE?100399?20EREF+TFNR 40005 00005?21MTLG:Grund nicht s",
    "pezifizie?22rt Reject aus SEPA-Ueberwei?23sungsauftrag?34914",
]
DRESDNER_CREDIT = [
    "166?00GUTSCHRIFT?100399?20SVWZ+TO13 TF20008 MINT?21MTLG:Ggf.Melde",
    "vorschriften ?22beachten?30UBSWCHZH80A?31CH6500279279C31180700?32",
    "Richter Renate 70 Zeichen B?33eginn Fuellzeichen xxxxxxxx?70Dora ",
]


def test_keywords_written_one_after_another_each_open_their_value() -> None:
    info = read_info(DEUTSCHE_BANK)
    assert info.end_to_end_id == "A1.200080779.400143254.4961336"  # not "... KREF"
    assert info.mandate_id == "20852HW2723821"  # "MR" | "EF+" joined across the wrap
    assert info.creditor_scheme_id == "DE41EON00000129793"
    assert info.remittance is not None
    assert info.remittance.startswith("SONSTIGE GRUENDE ENDABRECHNUNG NR. 500106875")  # SVWZ+, not OAMT+'s amount
    assert (info.counterparty_bank, info.counterparty_account) == ("CSDBDE71XXX", "DE50712345600200691329")


def test_a_bank_tag_starting_a_piece_ends_the_keyword_before_it_and_its_text_runs_on() -> None:
    info = read_info(DRESDNER_RETURN)
    assert info.end_to_end_id == "TFNR 40005 00005"
    assert info.remittance == "MTLG:Grund nicht spezifiziert Reject aus SEPA-Ueberweisungsauftrag"


def test_the_name_wraps_across_its_two_subfields_as_the_remittance_does() -> None:
    info = read_info(DRESDNER_CREDIT)
    assert info.counterparty_name == "Richter Renate 70 Zeichen Beginn Fuellzeichen xxxxxxxx"
    assert info.remittance == "TO13 TF20008 MINT MTLG:Ggf.Meldevorschriften beachten"


@pytest.mark.parametrize(
    ("pieces", "text"),
    [
        (["Grund nicht spezifiziert 12", "3 weiter"], "Grund nicht spezifiziert 123 weiter"),  # full width: cut
        (["Miete Dezember", "Wohnung 3"], "Miete Dezember Wohnung 3"),  # shorter: its writer ended a line
        (["Miete Dezember ", "Wohnung 3"], "Miete Dezember Wohnung 3"),  # its own space, none added
        ([], ""),
    ],
)
def test_pieces_are_one_text_wrapped_at_27_characters(pieces: list[str], text: str) -> None:
    assert wrapped(pieces)[0] == text


def test_a_keyword_inside_a_word_is_text() -> None:
    info = read_info(["166?00GUTSCHRIFT?20SVWZ+Rechnung 4711 XEREF+1?32Muster GmbH"])
    assert info.end_to_end_id is None and info.remittance == "Rechnung 4711 XEREF+1"


def test_triodos_sepa_transfer_gives_the_bic_and_iban_in_20_and_21() -> None:
    info = read_info(
        [
            "000>100000000000",
            ">20RABONL2U",
            ">21NL12RABO0888888888",
            ">22METSELAARBAASIK PAARDENA PO>23STBUS 969 8888BB UTRETRECH",
            ">24NEDERLAND STORTING AANDELEN>25KAPITAAL ZAAK NR 40000",
        ]
    )
    assert (info.counterparty_bank, info.counterparty_account) == ("RABONL2U", "NL12RABO0888888888")
    assert (
        info.remittance
        == "METSELAARBAASIK PAARDENA POSTBUS 969 8888BB UTRETRECH NEDERLAND STORTING AANDELENKAPITAAL ZAAK NR 40000"
    )
    # A card payment: no transfer's BIC and IBAN, and an account of zeros is no account.
    card = read_info(["000>100000000000", ">20NS-DKDKDKFJFJFLS 201 \\KLKL>21KLFOOBAR \\ BETAALAUTOMAAT"])
    assert card.counterparty_account is None and card.counterparty_bank is None


def test_knab_gives_a_domestic_account_as_bban() -> None:
    info = read_info(["/TRTP/SEPA OVERBOEKING/BBAN/53851317/BIC/KNABNL2HXXX/NAME/NAMENAM", "E B.V./REMI/OPNAME"])
    assert (info.code, info.counterparty_account, info.counterparty_bank) == (
        "SEPA OVERBOEKING",
        "53851317",
        "KNABNL2HXXX",
    )
    assert (info.counterparty_name, info.remittance) == ("NAMENAME B.V.", "OPNAME")


def test_rabobank_structured_reference_is_the_creditor_reference() -> None:
    info = read_info(
        [
            "/EREF/123456789/BENM//NAME/Belastingdienst/REMI//CDTRREFTP//CD/SC",
            "OR/ISSR/CUR/CDTRREF/1234567899874563/ISDT/2013-12-27",
        ]
    )
    assert info.creditor_reference == "1234567899874563" and info.counterparty_name == "Belastingdienst"
