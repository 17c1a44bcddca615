#!/usr/bin/env python3
"""Independent labeled evaluation set for reconstream: duplicate supplier invoices and bank-line matching.

Written from the input contract (docs/events.md), the ISO 20022 camt.053.001.02 / camt.054.001.02 message
definitions and public descriptions of how banks and payers fill them, and NOT from the engine's matchers.

    python benchmarks/evalset/build.py --out DIR [--seed S] [--invoices N]

writes DIR/input/{vendors,invoices,invoice_status,payment_batches}.jsonl, DIR/input/bank/*.xml (one camt.053
per business day per company account, plus a few intraday camt.054 debit notifications) and DIR/labels.json.
Stdlib + lxml + orjson only; money is Decimal throughout; the output is a pure function of --seed and --invoices.
See README.md beside this file for the classes, where each pattern comes from, and the label format.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import itertools
import math
import random
import re
import shutil
import sys
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import orjson
from lxml import etree

D = Decimal
CENT = D("0.01")
ZERO = D("0.00")
DEFAULT_SEED = 20261125
DEFAULT_INVOICES = 4000

NS053 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"
NS054 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


def q2(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_UP)


def money(x: Decimal) -> str:
    return str(q2(x))


# --------------------------------------------------------------------------------------------------------------
# calendar: TARGET2 closing days; statements exist for every business day of every account
# --------------------------------------------------------------------------------------------------------------
START = dt.date(2025, 12, 1)
INV_LAST = dt.date(2026, 10, 30)
END = dt.date(2026, 11, 24)
HOLIDAYS = {
    dt.date(2025, 12, 25),
    dt.date(2025, 12, 26),
    dt.date(2026, 1, 1),
    dt.date(2026, 4, 3),
    dt.date(2026, 4, 6),
    dt.date(2026, 5, 1),
    dt.date(2026, 12, 25),
    dt.date(2026, 12, 26),
}


def is_bd(d: dt.date) -> bool:
    return d.weekday() < 5 and d not in HOLIDAYS


def next_bd(d: dt.date) -> dt.date:
    while not is_bd(d):
        d += dt.timedelta(days=1)
    return d


def prev_bd(d: dt.date) -> dt.date:
    while not is_bd(d):
        d -= dt.timedelta(days=1)
    return d


def add_bd(d: dt.date, n: int) -> dt.date:
    d = next_bd(d)
    step = 1 if n >= 0 else -1
    for _ in range(abs(n)):
        d += dt.timedelta(days=step)
        while not is_bd(d):
            d += dt.timedelta(days=step)
    return d


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)


BDAYS = [START + days(i) for i in range((END - START).days + 1) if is_bd(START + days(i))]
INV_BDAYS = [d for d in BDAYS if d <= INV_LAST]


def at(d: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day, hour, minute, second)


def iso_z(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------------------------
# check digits: IBAN (ISO 13616 mod 97-10), national BBAN keys, ISO 11649 RF, SEPA creditor identifier
# --------------------------------------------------------------------------------------------------------------
def _mod97(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s)) % 97


def make_iban(country: str, bban: str) -> str:
    return f"{country}{98 - _mod97(bban + country + '00'):02d}{bban}"


IBAN_LEN = {
    "DE": 22,
    "NL": 18,
    "FR": 27,
    "BE": 16,
    "AT": 20,
    "IT": 27,
    "ES": 24,
    "GB": 22,
    "CH": 21,
    "SE": 24,
    "FI": 18,
    "PL": 28,
    "DK": 18,
    "LU": 20,
    "IE": 22,
}


def iban_valid(iban: str) -> bool:
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+", iban or ""):
        return False
    if IBAN_LEN.get(iban[:2]) != len(iban):
        return False
    return _mod97(iban[4:] + iban[:4]) == 1


def rf_reference(base: str) -> str:
    base = re.sub(r"[^0-9A-Z]", "", base.upper())
    return f"RF{98 - _mod97(base + 'RF00'):02d}{base}"


def rf_valid(ref: str) -> bool:
    ref = ref.replace(" ", "").upper()
    return bool(re.fullmatch(r"RF[0-9]{2}[0-9A-Z]{1,21}", ref)) and _mod97(ref[4:] + ref[:4]) == 1


def creditor_identifier(country: str, national: str) -> str:
    # EPC262-08: CC + check (mod 97 over national id + CC + 00, business code excluded) + ZZZ + national id
    return f"{country}{98 - _mod97(national + country + '00'):02d}ZZZ{national}"


def _luhn_digit(s: str) -> str:
    total = 0
    for i, c in enumerate(reversed(s)):
        v = int(c)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return str((10 - total % 10) % 10)


_IT_ODD = {
    **{str(i): v for i, v in enumerate([1, 0, 5, 7, 9, 13, 15, 17, 19, 21])},
    **dict(
        zip(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23],
            strict=True,
        )
    ),
}


def _it_cin(s: str) -> str:
    total = 0
    for i, c in enumerate(s):
        if i % 2 == 0:
            total += _IT_ODD[c]
        else:
            total += int(c) if c.isdigit() else ord(c) - 65
    return chr(65 + total % 26)


def _es_dc(s10: str) -> str:
    w = [1, 2, 4, 8, 5, 10, 9, 7, 3, 6]
    r = 11 - sum(int(c) * k for c, k in zip(s10, w, strict=True)) % 11
    return "0" if r == 11 else "1" if r == 10 else str(r)


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def random_bban(rng: random.Random, country: str, bank: str | None = None) -> str:
    """A BBAN in the country's format, with the national check digits where the country has them."""
    if country == "DE":
        acct = _digits(rng, 9)  # Bundesbank check method 00 (weights 2,1 from the right, digit sums, mod 10)
        tot = sum(sum(divmod(int(c) * (2 if i % 2 == 0 else 1), 10)) for i, c in enumerate(reversed(acct)))
        return (bank or _digits(rng, 8)) + acct + str((10 - tot % 10) % 10)
    if country == "NL":
        return (bank or "ABNA") + _digits(rng, 10)
    if country == "FR":
        b, g, a = bank or _digits(rng, 5), _digits(rng, 5), _digits(rng, 11)
        key = 97 - (89 * int(b) + 15 * int(g) + 3 * int(a)) % 97
        return f"{b}{g}{a}{key:02d}"
    if country == "BE":
        n = (bank or _digits(rng, 3)) + _digits(rng, 7)
        c = int(n) % 97 or 97
        return f"{n}{c:02d}"
    if country == "AT":
        return (bank or _digits(rng, 5)) + _digits(rng, 11)
    if country == "IT":
        rest = (bank or _digits(rng, 5)) + _digits(rng, 5) + _digits(rng, 12)
        return _it_cin(rest) + rest
    if country == "ES":
        b, o, a = bank or _digits(rng, 4), _digits(rng, 4), _digits(rng, 10)
        return b + o + _es_dc("00" + b + o) + _es_dc(a) + a
    if country == "GB":
        return (bank or "NWBK") + _digits(rng, 6) + _digits(rng, 8)
    if country == "CH":
        return (bank or _digits(rng, 5)) + _digits(rng, 12)
    if country == "SE":
        return (bank or _digits(rng, 3)) + _digits(rng, 17)
    if country == "FI":
        s = (bank or _digits(rng, 6)) + _digits(rng, 7)
        return s + _luhn_digit(s)
    if country == "PL":
        b7 = bank or _digits(rng, 7)
        w = [3, 9, 7, 1, 3, 9, 7]
        chk = (10 - sum(int(c) * k for c, k in zip(b7, w, strict=True)) % 10) % 10
        return b7 + str(chk) + _digits(rng, 16)
    if country == "DK":
        return (bank or _digits(rng, 4)) + _digits(rng, 10)
    raise ValueError(country)


# fictional banks per country: (national bank code used in the BBAN, BIC)
BANKS = {
    "DE": [
        ("72152070", "BYLADEM1NEB"),
        ("73451450", "BYLADEM1SOG"),
        ("76551860", "BYLADEM1ROT"),
        ("42650150", "WELADED1REK"),
        ("41651965", "WELADED1GES"),
        ("77150000", "BYLADEM1KUB"),
        ("74250000", "BYLADEM1SRG"),
        ("42450040", "WELADED1GLA"),
    ],
    "NL": [
        ("RABO", "RABONL2U"),
        ("INGB", "INGBNL2A"),
        ("ABNA", "ABNANL2A"),
        ("TRIO", "TRIONL2U"),
        ("SNSB", "SNSBNL2A"),
    ],
    "FR": [
        ("30003", "SOGEFRPPXXX"),
        ("30004", "BNPAFRPPXXX"),
        ("10278", "CMCIFR2AXXX"),
        ("30002", "CRLYFRPPXXX"),
        ("18206", "AGRIFRPP882"),
    ],
    "BE": [("310", "BBRUBEBB"), ("001", "GEBABEBB"), ("735", "KREDBEBB")],
    "AT": [("20111", "GIBAATWWXXX"), ("12000", "BKAUATWWXXX"), ("32000", "RLNWATWWXXX")],
    "IT": [("03069", "BCITITMMXXX"), ("02008", "UNCRITMMXXX"), ("05034", "BAPPIT21XXX")],
    "ES": [("2100", "CAIXESBBXXX"), ("0049", "BSCHESMMXXX"), ("0182", "BBVAESMMXXX")],
    "GB": [("NWBK", "NWBKGB2L"), ("BARC", "BARCGB22"), ("LOYD", "LOYDGB2L"), ("HBUK", "HBUKGB4B")],
    "CH": [("00762", "BCGECHGGXXX"), ("00230", "UBSWCHZH80A"), ("00700", "ZKBKCHZZ80A")],
    "SE": [("500", "ESSESESS"), ("800", "SWEDSESS"), ("600", "HANDSESS")],
    "FI": [("123456", "NDEAFIHH"), ("500001", "OKOYFIHH"), ("405511", "HELSFIHH")],
    "PL": [("1140200", "BREXPLPW"), ("1020102", "BPKOPLPW"), ("1050001", "INGBPLPW")],
    "DK": [("3000", "DABADKKK"), ("2000", "NDEADKKK")],
}


# --------------------------------------------------------------------------------------------------------------
# text as banks render it: SEPA Latin character set (EPC / DK Anlage 3: umlauts -> AE/OE/UE or A/O/U, ss for ß),
# upper case, truncation of names (70 in SEPA, 35 or 27 in legacy conversions), Ustrd wrapped at 35 or 27
# --------------------------------------------------------------------------------------------------------------
_TR_AE = str.maketrans(
    {
        "Ä": "AE",
        "Ö": "OE",
        "Ü": "UE",
        "ä": "ae",
        "ö": "oe",
        "ü": "ue",
        "ß": "ss",
        "Å": "AA",
        "å": "aa",
        "Ø": "OE",
        "ø": "oe",
        "Æ": "AE",
        "æ": "ae",
        "Ł": "L",
        "ł": "l",
        "&": "+",
    }
)
_TR_PLAIN = str.maketrans({"ß": "ss", "Ø": "O", "ø": "o", "Æ": "AE", "æ": "ae", "Ł": "L", "ł": "l", "&": "+"})
_SEPA_OK = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")


def sepa_text(s: str, style: str = "ae") -> str:
    s = s.translate(_TR_AE if style == "ae" else _TR_PLAIN)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    return re.sub(r" +", " ", _SEPA_OK.sub(" ", s)).strip()


def wrap_fixed(text: str, width: int) -> list[str]:
    return [text[i : i + width] for i in range(0, len(text), width)] or [""]


LEGAL_FORMS = [
    "GmbH & Co. KG",
    "Sp. z o.o.",
    "S.A.R.L.",
    "S.p.A.",
    "S.r.l.",
    "GmbH",
    "AG",
    "KG",
    "OHG",
    "e.K.",
    "SE",
    "B.V.",
    "N.V.",
    "V.O.F.",
    "SAS",
    "SASU",
    "S.A.",
    "S.L.",
    "Ltd",
    "Limited",
    "PLC",
    "Oy",
    "Oyj",
    "AB",
    "SRL",
    "BV",
    "NV",
]
LEGAL_ABBR = {
    "GmbH & Co. KG": ["GMBH + CO KG", "GMBH U CO KG", "GMBH CO KG", "GMBH+CO.KG"],
    "B.V.": ["BV", "B V"],
    "N.V.": ["NV"],
    "S.A.R.L.": ["SARL", "S A R L"],
    "Sp. z o.o.": ["SP Z O O", "SP. Z O.O.", "SPZOO"],
    "S.p.A.": ["SPA", "S P A"],
    "S.A.": ["SA"],
    "Limited": ["LTD"],
    "e.K.": ["EK", "E.K."],
    "S.r.l.": ["SRL"],
    "S.L.": ["SL"],
}


def split_legal(name: str) -> tuple[str, str]:
    for lf in LEGAL_FORMS:
        if name.endswith(" " + lf):
            return name[: -len(lf) - 1], lf
    return name, ""


def bank_name(
    name: str, rng: random.Random, max_len: int | None = None, drop_legal: float = 0.25, upper: float = 0.8
) -> str:
    """How a bank or a payer's e-banking shows a company name: legal form dropped or abbreviated,
    transliterated, upper-cased, truncated."""
    base, lf = split_legal(name)
    r = rng.random()
    if lf and r < drop_legal:
        s = base
    elif lf and lf in LEGAL_ABBR and r < drop_legal + 0.35:
        s = f"{base} {rng.choice(LEGAL_ABBR[lf])}"
    else:
        s = name
    s = sepa_text(s, "ae" if rng.random() < 0.75 else "plain")
    if rng.random() < upper:
        s = s.upper()
    if max_len is None:
        max_len = rng.choices([70, 35, 27], weights=[6, 3, 1])[0]
    return s[:max_len].rstrip()


# --------------------------------------------------------------------------------------------------------------
# the group and its house banks
# --------------------------------------------------------------------------------------------------------------
@dataclass
class Company:
    code: str
    country: str
    name: str
    erp: str
    bank_source: str
    bank_style: str
    iban: str
    bic: str
    opening: Decimal
    lang: str
    std_rate: Decimal
    reduced_rates: list[Decimal]
    acct_short: str
    erp_seq: int = 0


def make_companies(rng: random.Random) -> dict[str, Company]:
    return {
        "1000": Company(
            "1000",
            "DE",
            "Nordhafen Industrie GmbH",
            "sap-s4hana",
            "house-bank-de",
            "DK",
            make_iban("DE", random_bban(rng, "DE", "42650150")),
            "WELADED1REK",
            D("2184316.42"),
            "de",
            D("0.19"),
            [D("0.07")],
            "DE",
        ),
        "2000": Company(
            "2000",
            "NL",
            "Nordhafen Nederland B.V.",
            "dynamics-365",
            "house-bank-nl",
            "NL",
            make_iban("NL", "RABO" + _digits(rng, 10)),
            "RABONL2U",
            D("1236508.17"),
            "nl",
            D("0.21"),
            [D("0.09")],
            "NL",
        ),
        "3000": Company(
            "3000",
            "FR",
            "Nordhafen France SAS",
            "oracle-erp-cloud",
            "house-bank-fr",
            "FR",
            make_iban("FR", random_bban(rng, "FR", "30004")),
            "BNPAFRPPXXX",
            D("948220.90"),
            "fr",
            D("0.20"),
            [D("0.10"), D("0.055")],
            "FR",
        ),
    }


EU = {"DE", "NL", "FR", "BE", "AT", "IT", "ES", "FI", "SE", "PL", "DK", "LU", "IE"}


# --------------------------------------------------------------------------------------------------------------
# suppliers: names with legal forms, some long, some sharing a first word, a few with two vendor ids
# --------------------------------------------------------------------------------------------------------------
NAME_PARTS = {
    "DE": (
        [
            "Müller",
            "Schäfer",
            "Krüger",
            "Weiß",
            "Hoffmann",
            "Schröder",
            "Köhler",
            "Becker",
            "Wagner",
            "Zimmermann",
            "Braun",
            "Hartmann",
            "Lange",
            "Werner",
            "Krause",
            "Lehmann",
            "Schulze",
            "Huber",
            "Kaiser",
            "Fuchs",
            "Vogel",
            "Friedrich",
            "Günther",
            "Böhm",
            "Jäger",
            "Rhein-Main",
            "Nordsee",
            "Elbe",
            "Weser",
            "Alster",
            "Harz",
            "Spree",
            "Förster",
            "Brückner",
            "Große",
        ],
        [
            "Logistik",
            "Bau",
            "Elektrotechnik",
            "Verpackungen",
            "Metallbau",
            "Gebäudereinigung",
            "Druck & Medien",
            "IT-Systemhaus",
            "Maschinenbau",
            "Spedition",
            "Kältetechnik",
            "Büroeinrichtung",
            "Personaldienste",
            "Energietechnik",
            "Facility Services",
            "Stahlhandel",
            "Kunststofftechnik",
            "Industriebedarf",
            "Werkzeugbau",
            "Umwelttechnik",
            "Fördertechnik",
            "Lackiertechnik",
            "Antriebstechnik",
            "Arbeitsschutz",
        ],
        [("GmbH", 50), ("GmbH & Co. KG", 20), ("AG", 9), ("KG", 8), ("e.K.", 5), ("OHG", 4), ("SE", 2)],
    ),
    "AT": (
        ["Gruber", "Pichler", "Moser", "Steiner", "Hofer", "Leitner", "Eder"],
        ["Holzbau", "Anlagenbau", "Logistik", "Elektro", "Metall"],
        [("GmbH", 70), ("AG", 15), ("KG", 15)],
    ),
    "CH": (
        ["Brunner", "Zürcher", "Keller", "Meier", "Baumann", "Gerber"],
        ["Präzision", "Messtechnik", "Software", "Maschinen", "Sensorik"],
        [("AG", 70), ("GmbH", 30)],
    ),
    "NL": (
        [
            "Van der Berg",
            "De Vries",
            "Bakker",
            "Jansen",
            "Visser",
            "Smit",
            "Meijer",
            "De Boer",
            "Mulder",
            "Bos",
            "Vos",
            "Hendriks",
            "Dekker",
            "Brouwer",
            "Van Dijk",
            "Van Leeuwen",
            "Kuipers",
            "Van den Heuvel",
        ],
        [
            "Transport",
            "Installatietechniek",
            "Verpakkingen",
            "ICT",
            "Schoonmaak",
            "Techniek",
            "Logistiek",
            "Bouw",
            "Metaalbewerking",
            "Kantoorinrichting",
            "Uitzendbureau",
            "Elektro",
            "Groothandel",
        ],
        [("B.V.", 85), ("N.V.", 8), ("V.O.F.", 7)],
    ),
    "BE": (
        ["Peeters", "Janssens", "Maes", "Jacobs", "Willems", "Claes"],
        ["Logistics", "Bouw", "Verpakking", "Techniek", "Distributie"],
        [("NV", 50), ("BV", 40), ("SRL", 10)],
    ),
    "FR": (
        [
            "Dupont",
            "Lefèvre",
            "Moreau",
            "Rousseau",
            "Bertrand",
            "Girard",
            "Bonnet",
            "Mercier",
            "Faure",
            "Lambert",
            "Fontaine",
            "Chevalier",
            "Gauthier",
            "Perrin",
            "Lemaire",
            "Roussel",
            "Brûlé",
        ],
        [
            "Emballages",
            "Transports",
            "Électricité",
            "Bâtiment",
            "Nettoyage Industriel",
            "Informatique",
            "Mécanique de Précision",
            "Logistique",
            "Imprimerie",
            "Fournitures de Bureau",
            "Chaudronnerie",
            "Intérim",
            "Manutention",
        ],
        [("SAS", 50), ("S.A.R.L.", 30), ("S.A.", 15), ("SASU", 5)],
    ),
    "IT": (
        ["Rossi", "Bianchi", "Esposito", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti"],
        ["Meccanica", "Imballaggi", "Componenti", "Automazione", "Trasporti"],
        [("S.p.A.", 40), ("S.r.l.", 60)],
    ),
    "ES": (
        ["Martínez", "López", "Sánchez", "Fernández", "Gómez", "Ruiz"],
        ["Envases", "Logística", "Componentes", "Suministros"],
        [("S.L.", 70), ("S.A.", 30)],
    ),
    "GB": (
        ["Harrington", "Whitmore", "Ashford", "Pemberton", "Caldwell", "Blackwood", "Thornbury", "Redfern"],
        ["Components", "Software", "Engineering", "Consulting", "Freight", "Analytics", "Instruments"],
        [("Ltd", 70), ("Limited", 20), ("PLC", 10)],
    ),
    "FI": (
        ["Järvinen", "Mäkelä", "Virtanen", "Korhonen", "Nieminen", "Lehtonen"],
        ["Konepaja", "Logistiikka", "Teräs", "Automaatio", "Puu"],
        [("Oy", 85), ("Oyj", 15)],
    ),
    "SE": (
        ["Lindström", "Åkesson", "Bergqvist", "Sjöberg", "Holmgren", "Nyström"],
        ["Verktyg", "Kemi", "Stål", "Automation", "Logistik"],
        [("AB", 100)],
    ),
    "PL": (
        ["Kowalski", "Wiśniewski", "Wójcik", "Kamiński", "Lewandowski", "Zieliński"],
        ["Transport", "Stal", "Opakowania", "Budownictwo", "Elektronika"],
        [("Sp. z o.o.", 80), ("S.A.", 20)],
    ),
}
LONG_NAMES = [
    ("DE", "Technische Gebäudeausrüstung Rhein-Main Service- und Wartungsgesellschaft mbH"),
    ("DE", "Internationale Spedition und Lagerlogistik Weser-Ems GmbH & Co. KG"),
    ("DE", "Norddeutsche Industrie- und Gewerbeabfallentsorgung Betriebsgesellschaft mbH"),
    ("NL", "Nederlandse Technische Groothandel voor Installatiebenodigdheden B.V."),
    ("NL", "Coöperatieve Vereniging Transport- en Distributiecentrum Rijnmond U.A."),
    ("FR", "Société d'Exploitation des Établissements Bertrand et Fils S.A.R.L."),
    ("FR", "Compagnie Générale de Maintenance Industrielle et de Services Associés SAS"),
    ("DE", "Süddeutsche Präzisionswerkzeug- und Vorrichtungsbau Gesellschaft mbH"),
]
FAMILIES = [
    ("DE", "1000", "Müller", ["Logistik GmbH", "Bau GmbH", "Elektrotechnik GmbH & Co. KG"]),
    ("DE", "1000", "Schäfer", ["Verpackungen GmbH", "Metallbau KG"]),
    ("DE", "1000", "Nordsee", ["Spedition GmbH", "Catering GmbH"]),
    ("DE", "1000", "Krüger", ["Industriebedarf GmbH", "Kältetechnik GmbH"]),
    ("DE", "1000", "Hoffmann", ["Druck & Medien GmbH", "Gebäudereinigung GmbH & Co. KG"]),
    ("NL", "2000", "Van Dijk", ["Transport B.V.", "Installatietechniek B.V."]),
    ("NL", "2000", "De Vries", ["Verpakkingen B.V.", "ICT B.V."]),
    ("NL", "2000", "Bakker", ["Logistiek B.V.", "Bouw B.V."]),
    ("FR", "3000", "Lefèvre", ["Transports SAS", "Emballages S.A.R.L."]),
    ("FR", "3000", "Dupont", ["Électricité SAS", "Nettoyage Industriel S.A.R.L."]),
    ("FR", "3000", "Moreau", ["Logistique SAS", "Imprimerie S.A."]),
    ("DE", "1000", "Weser", ["Logistik GmbH", "Stahlhandel GmbH"]),
]
# special suppliers: (country, company, name, profile, currency)
SPECIAL_VENDORS = [
    ("DE", "1000", "Hanseatische Grundbesitz Verwaltungs GmbH & Co. KG", "rent", "EUR"),
    ("DE", "1000", "Elbufer Immobilien GmbH", "rent", "EUR"),
    ("NL", "2000", "Vastgoed Maasvlakte B.V.", "rent", "EUR"),
    ("FR", "3000", "Foncière des Docks SAS", "rent", "EUR"),
    ("DE", "1000", "Cloudwerk Software GmbH", "subscription", "EUR"),
    ("NL", "2000", "Datastroom Hosting B.V.", "subscription", "EUR"),
    ("FR", "3000", "Logiciel Atlantique SAS", "subscription", "EUR"),
    ("DE", "1000", "Sicherheitsdienst Nord GmbH", "subscription_transfer", "EUR"),
    ("DE", "1000", "Stadtwerke Nordhafen GmbH", "dd", "EUR"),
    ("DE", "1000", "Telekommunikation Nord AG", "dd", "EUR"),
    ("DE", "1000", "TankCard Service GmbH", "dd", "EUR"),
    ("DE", "1000", "Energie Rheinland Vertrieb GmbH", "dd", "EUR"),
    ("NL", "2000", "Energie Direct Nederland B.V.", "dd", "EUR"),
    ("NL", "2000", "TeleNed B.V.", "dd", "EUR"),
    ("NL", "2000", "Waterbedrijf Zuid N.V.", "dd", "EUR"),
    ("FR", "3000", "Électricité Régionale de l'Ouest S.A.", "dd", "EUR"),
    ("FR", "3000", "Télécom Atlantique SAS", "dd", "EUR"),
    ("FR", "3000", "Carburants Services S.A.R.L.", "dd", "EUR"),
    ("DE", "1000", "Maschinenfabrik Weserbergland AG", "instalment", "EUR"),
    ("DE", "1000", "Nordleasing GmbH", "instalment_dd", "EUR"),
    ("DE", "1000", "Anlagenbau Krause GmbH", "instalment", "EUR"),
    ("NL", "2000", "Lease Holland B.V.", "instalment_dd", "EUR"),
    ("NL", "2000", "Machinebouw Twente B.V.", "instalment", "EUR"),
    ("FR", "3000", "Crédit-Bail Industriel SAS", "instalment_dd", "EUR"),
    ("FR", "3000", "Machines-Outils Bertrand S.A.", "instalment", "EUR"),
]

# invoice numbering styles: (format, per-year counter, min start, max start, max gap)
STYLES = {
    "INV-Y-6": (lambda y, m, n: f"INV-{y}-{n:06d}", True, 100, 900, 25),
    "Y-M-4": (lambda y, m, n: f"{y}-{m:02d}-{n:04d}", True, 50, 400, 6),
    "RE Y/n": (lambda y, m, n: f"RE {y}/{n}", True, 5, 60, 3),
    "n": (lambda y, m, n: f"{n}", False, 1000, 60000, 30),
    "INV-n": (lambda y, m, n: f"INV-{n}", False, 1000, 9000, 12),
    "RY5": (lambda y, m, n: f"R{y}{n:05d}", True, 200, 3000, 20),
    "F-Y-5": (lambda y, m, n: f"F-{y}-{n:05d}", True, 100, 2000, 15),
    "FAyy/6": (lambda y, m, n: f"FA{y % 100:02d}/{n:06d}", True, 100, 5000, 30),
    "Y/4": (lambda y, m, n: f"{y}/{n:04d}", True, 100, 800, 8),
    "FV/Y/M/4": (lambda y, m, n: f"FV/{y}/{m:02d}/{n:04d}", True, 10, 300, 5),
    "n8": (lambda y, m, n: f"{n:08d}", False, 90010000, 90900000, 40),
    "SI-6": (lambda y, m, n: f"SI-{n:06d}", False, 10000, 200000, 20),
    "Y6": (lambda y, m, n: f"{y}{n:06d}", True, 100, 9000, 25),
    "RG-yy-4": (lambda y, m, n: f"RG-{y % 100:02d}-{n:04d}", True, 100, 900, 8),
    "n7z": (lambda y, m, n: f"{n:07d}", False, 1000, 90000, 10),
    "INV/Y/n": (lambda y, m, n: f"INV/{y}/{n:05d}", True, 100, 5000, 15),
    "SB-Y-4": (lambda y, m, n: f"SB-{y}-{n:04d}", True, 100, 900, 6),
}
STYLE_BY_COUNTRY = {
    "DE": ["RE Y/n", "n", "RY5", "Y/4", "RG-yy-4", "n8", "INV-Y-6", "n7z", "SB-Y-4"],
    "AT": ["RE Y/n", "n", "Y/4", "RG-yy-4"],
    "CH": ["n", "RY5", "INV-n"],
    "NL": ["Y-M-4", "Y6", "INV-Y-6", "n", "INV-n"],
    "BE": ["Y-M-4", "Y6", "n"],
    "FR": ["F-Y-5", "FAyy/6", "n", "Y-M-4", "INV-Y-6"],
    "IT": ["Y/4", "n", "INV/Y/n"],
    "ES": ["Y/4", "FAyy/6", "n"],
    "GB": ["SI-6", "INV-n", "INV-Y-6"],
    "FI": ["n", "INV-Y-6"],
    "SE": ["n", "INV-n"],
    "PL": ["FV/Y/M/4", "INV/Y/n"],
}
CN_STYLES = {
    "CN-n": (lambda y, n: f"CN-{n}", 10, 900),
    "GS-n": (lambda y, n: f"GS-{n}", 5, 400),
    "AV-Y-4": (lambda y, n: f"AV-{y}-{n:04d}", 5, 300),
    "CR-Y-5": (lambda y, n: f"CR-{y}-{n:05d}", 10, 900),
    "GS Y/n": (lambda y, n: f"GS {y}/{n}", 1, 40),
    "CN/Y/n": (lambda y, n: f"CN/{y}/{n:04d}", 10, 500),
}
CN_BY_COUNTRY = {
    "DE": ["GS-n", "GS Y/n", "CN-n"],
    "AT": ["GS-n"],
    "FR": ["AV-Y-4"],
    "NL": ["CN-n", "CR-Y-5"],
    "BE": ["CN-n"],
    "GB": ["CN-n", "CR-Y-5"],
    "PL": ["CN/Y/n"],
    "IT": ["CN-n"],
    "ES": ["CN-n"],
    "CH": ["GS-n"],
    "FI": ["CN-n"],
    "SE": ["CN-n"],
}
TERMS = {
    "net30": (30, None, None),
    "2/14": (30, 14, D("0.02")),
    "3/10": (30, 10, D("0.03")),
    "net14": (14, None, None),
    "net60": (60, None, None),
    "2/10": (30, 10, D("0.02")),
}


@dataclass
class Vendor:
    vid: str
    name: str
    country: str
    tax_id: str
    accounts: list
    currency: str
    primary: str
    serves: list
    terms: str
    style: str
    cn_style: str
    gap: int
    profile: str
    uses_rf: bool
    weight: float
    family: str | None = None
    alias: Vendor | None = None  # the second vendor id of the same supplier (same tax id)
    alias_of: Vendor | None = None
    cust_no: str = ""
    mandate: str = ""
    ci: str = ""
    rf_base: str = ""
    seq: dict = field(default_factory=dict)
    events: list = field(default_factory=list)  # (time, accounts) master-data versions


def make_tax_id(rng: random.Random, c: str) -> str:
    return {
        "DE": lambda: "DE" + _digits(rng, 9),
        "AT": lambda: "ATU" + _digits(rng, 8),
        "CH": lambda: "CHE" + _digits(rng, 9),
        "NL": lambda: "NL" + _digits(rng, 9) + "B01",
        "BE": lambda: "BE0" + _digits(rng, 9),
        "FR": lambda: "FR" + _digits(rng, 2) + _digits(rng, 9),
        "IT": lambda: "IT" + _digits(rng, 11),
        "ES": lambda: "ESB" + _digits(rng, 8),
        "GB": lambda: "GB" + _digits(rng, 9),
        "FI": lambda: "FI" + _digits(rng, 8),
        "SE": lambda: "SE" + _digits(rng, 10) + "01",
        "PL": lambda: "PL" + _digits(rng, 10),
    }[c]()


def new_account(rng: random.Random, country: str) -> tuple[str, str]:
    code, bic = rng.choice(BANKS[country])
    return make_iban(country, random_bban(rng, country, code)), bic


def make_vendors(rng: random.Random, n_vendors: int) -> list[Vendor]:
    vendors: list[Vendor] = []
    used_names: set[str] = set()
    used_ids: set[str] = set()

    def vid() -> str:
        while True:
            v = f"V{rng.randint(10000, 99999)}"
            if v not in used_ids:
                used_ids.add(v)
                return v

    def legal(c: str) -> str:
        forms = NAME_PARTS[c][2]
        return rng.choices([f for f, _ in forms], weights=[w for _, w in forms])[0]

    def add(country, company, name, profile="transfer", currency="EUR", family=None):
        used_names.add(name)
        serves = [company]
        if profile == "transfer" and rng.random() < 0.15:
            serves.append(rng.choice([c for c in ("1000", "2000", "3000") if c != company]))
        style = rng.choice(STYLE_BY_COUNTRY[country])
        terms = rng.choices(list(TERMS), weights=[50, 18, 6, 10, 8, 8])[0]
        if profile in ("dd", "subscription", "instalment_dd"):
            terms = "net14"
        if profile == "rent":
            terms = "net14"
        v = Vendor(
            vid(),
            name,
            country,
            make_tax_id(rng, country),
            [new_account(rng, country)],
            currency,
            company,
            serves,
            terms,
            style,
            rng.choice(CN_BY_COUNTRY[country]),
            rng.choice([1, 2, 3, 5, 8, 12, 20, 30, 40]),
            profile,
            uses_rf=(country in ("FI", "NL", "BE") and rng.random() < 0.45) or rng.random() < 0.05,
            weight=rng.paretovariate(1.3),
            family=family,
        )
        v.gap = min(v.gap, STYLES[style][4])
        v.cust_no = rng.choice(
            [
                f"{rng.randint(10000, 99999)}",
                f"K{rng.randint(1000, 99999)}",
                f"{rng.randint(100000, 999999)}",
                f"D{rng.randint(10000, 99999)}",
            ]
        )
        if profile in ("dd", "subscription", "instalment_dd"):
            v.mandate = f"M{rng.randint(100000, 999999)}-{rng.randint(1, 9)}"
            v.ci = creditor_identifier(country, _digits(rng, 11 if country == "DE" else 9))
        v.rf_base = _digits(rng, rng.choice([4, 5, 6]))
        vendors.append(v)
        return v

    for c, comp, name, prof, ccy in SPECIAL_VENDORS:
        add(c, comp, name, prof, ccy)
    for c, comp, family, rests in FAMILIES:
        for r in rests:
            add(c, comp, f"{family} {r}", family=family)
    for c, name in LONG_NAMES:
        add(c, {"DE": "1000", "NL": "2000", "FR": "3000"}[c], name)
    # foreign-currency suppliers
    for c, ccys, k in (("GB", ["GBP", "GBP", "USD"], 12), ("CH", ["CHF"], 7), ("SE", ["SEK"], 6)):
        for _ in range(k):
            first, biz, _f = NAME_PARTS[c]
            while True:
                nm = f"{rng.choice(first)} {rng.choice(biz)} {legal(c)}"
                if nm not in used_names:
                    break
            add(c, rng.choice(["1000", "1000", "2000", "3000"]), nm, currency=rng.choice(ccys))
    mix = {
        "1000": [
            ("DE", 60),
            ("AT", 10),
            ("NL", 5),
            ("PL", 6),
            ("IT", 5),
            ("CH", 3),
            ("BE", 3),
            ("FR", 4),
            ("ES", 2),
            ("GB", 2),
        ],
        "2000": [("NL", 60), ("DE", 14), ("BE", 12), ("FI", 5), ("GB", 3), ("PL", 3), ("FR", 3)],
        "3000": [("FR", 64), ("DE", 9), ("ES", 8), ("IT", 8), ("BE", 6), ("GB", 2), ("PL", 3)],
    }
    comp_weights = [("1000", 45), ("2000", 30), ("3000", 25)]
    while len(vendors) < n_vendors:
        comp = rng.choices([c for c, _ in comp_weights], weights=[w for _, w in comp_weights])[0]
        c = rng.choices([x for x, _ in mix[comp]], weights=[w for _, w in mix[comp]])[0]
        first, biz, _f = NAME_PARTS[c]
        for _ in range(50):
            nm = (
                f"{rng.choice(first)} {rng.choice(biz)} {legal(c)}"
                if rng.random() < 0.7 or c != "FR"
                else f"{rng.choice(biz)} {rng.choice(first)} {legal(c)}"
            )
            if nm not in used_names and nm.split()[0] not in {f[2] for f in FAMILIES}:
                break
        else:
            continue
        ccy = "EUR"
        if c in ("GB",):
            ccy = rng.choice(["GBP", "EUR"])
        if c == "CH":
            ccy = rng.choice(["CHF", "EUR"])
        v = add(c, comp, nm, currency=ccy)
        if c == "FR" and rng.random() < 0.16:
            v.profile = "cheque"
    # a few suppliers have a second bank account on file
    for v in vendors:
        if v.profile == "transfer" and rng.random() < 0.08:
            v.accounts.append(new_account(rng, v.country))
    # suppliers kept twice in the vendor master (same tax id, another vendor id, name keyed differently)
    cands = [v for v in vendors if v.profile == "transfer" and v.currency == "EUR" and v.family is None]
    rng.shuffle(cands)
    for v in cands[:22]:
        base, lf = split_legal(v.name)
        variant = rng.choice(
            [
                sepa_text(v.name).upper(),
                f"{base} {lf}".replace(" & ", " und ") if "&" in base else f"{base}, {lf}",
                f"{v.name} Niederlassung Nord" if v.country == "DE" else f"{v.name} (old)",
                f"{base} {rng.choice(LEGAL_ABBR.get(lf, [lf]))}" if lf else v.name.upper(),
            ]
        )
        if variant == v.name:
            variant = v.name.upper()
        accts = list(v.accounts) if rng.random() < 0.6 else [new_account(rng, v.country)]
        alias = Vendor(
            vid(),
            variant,
            v.country,
            v.tax_id,
            accts,
            v.currency,
            v.primary,
            list(v.serves),
            v.terms,
            v.style,
            v.cn_style,
            v.gap,
            "alias",
            False,
            0.0,
        )
        alias.cust_no, alias.alias_of, v.alias = v.cust_no, v, alias
        vendors.append(alias)
    return vendors


# --------------------------------------------------------------------------------------------------------------
# supplier documents
# --------------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Doc:
    key: int
    vendor: Vendor
    company: str
    kind: str  # invoice | credit_note
    inv_date: dt.date
    currency: str
    net: Decimal  # magnitudes; a signed credit note is written with negative amounts
    tax: Decimal
    gross: Decimal
    rate: Decimal
    series: str = "inv"
    prio: int = 5
    number: str = ""
    seq: int = 0
    due: dt.date | None = None
    rf: str | None = None
    signed: bool = False
    type_field: str = "invoice"
    capture: dt.datetime | None = None
    approve: dt.datetime | None = None
    post: dt.datetime | None = None
    erp_no: str = ""
    fy: int = 0
    tags: set = field(default_factory=set)
    group: int | None = None
    inst_index: int = 0
    dup_of: Doc | None = None
    dup_class: str | None = None
    iid: str = ""
    corr: str = ""
    pay_class: str | None = None
    paid_by: list = field(default_factory=list)  # Tx objects that settle it (in order)
    settled_on: dt.date | None = None  # date it became fully settled (None: open at the end)
    reopened: bool = False
    held: bool = False
    follow: Doc | None = None
    # set later on some documents only, absent on the others (no default, not in __init__ or repr)
    period: dt.date = field(init=False, repr=False)  # rent: the month the invoice is for
    variants: list[str] = field(init=False, repr=False)  # a duplicate: how it differs from its original
    closed_iv: list[list[dt.date | None]] = field(init=False, repr=False)  # [settled on, reopened on or None]

    @property
    def post_date(self) -> dt.date | None:
        return self.post.date() if self.post else None


def capture_of(d: Doc) -> dt.datetime:
    """When a document was captured: plan_capture sets it on every document, make_duplicates on every copy."""
    assert d.capture is not None
    return d.capture


def post_of(d: Doc) -> dt.datetime:
    """When a document known to be posted was posted."""
    assert d.post is not None
    return d.post


def due_of(d: Doc) -> dt.date:
    """A document's due date: finish_documents sets it on every document."""
    assert d.due is not None
    return d.due


def tax_rate(rng: random.Random, comp: Company, v: Vendor) -> Decimal:
    if v.country == comp.country:
        r = rng.random()
        if r < 0.85:
            return comp.std_rate
        if r < 0.97:
            return rng.choice(comp.reduced_rates)
        return D("0")
    return D("0")  # intra-EU reverse charge or import of services: the invoice carries no VAT


CCY_SCALE = {"EUR": D("1"), "USD": D("1.1"), "GBP": D("0.86"), "CHF": D("0.95"), "SEK": D("11.2")}


def rand_net(rng: random.Random, currency: str = "EUR", median: float = 1400.0, sigma: float = 1.2) -> Decimal:
    x: float | Decimal = min(max(rng.lognormvariate(math.log(median), sigma), 18.0), 240000.0)
    x = D(str(round(x, 2))) * CCY_SCALE[currency]
    if rng.random() < 0.15:
        return q2(x.quantize(D("1"), rounding=ROUND_HALF_UP) or D("20"))
    return q2(x)


def amounts_from_net(net: Decimal, rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    tax = q2(net * rate)
    return net, tax, net + tax


def amounts_from_gross(gross: Decimal, rate: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    net = q2(gross / (1 + rate))
    return net, gross - net, gross


class DocFactory:
    docs: list[Doc]

    def __init__(self, rng: random.Random, comps: dict[str, Company]):
        self.rng, self.comps, self.docs, self.key = rng, comps, [], 0

    def new(
        self,
        v: Vendor,
        company: str,
        inv_date: dt.date,
        *,
        kind="invoice",
        net=None,
        gross=None,
        rate=None,
        currency=None,
        series="inv",
        tags=(),
    ) -> Doc:
        rng = self.rng
        currency = currency or v.currency
        if rate is None:
            rate = tax_rate(rng, self.comps[company], v)
        if gross is not None:
            n, t, g = amounts_from_gross(gross, rate)
        else:
            n, t, g = amounts_from_net(net if net is not None else rand_net(rng, currency), rate)
        self.key += 1
        d = Doc(self.key, v, company, kind, inv_date, currency, n, t, g, rate, series=series)
        d.tags.update(tags)
        self.docs.append(d)
        return d


def pick_date(rng: random.Random, lo: dt.date = START, hi: dt.date = INV_LAST) -> dt.date:
    cands = [d for d in INV_BDAYS if lo <= d <= hi]
    d = rng.choice(cands)
    if rng.random() < 0.03:  # the odd invoice dated on a Saturday
        d2 = d + days(5 - d.weekday()) if d.weekday() < 5 else d
        if d2 <= hi:
            d = d2
    return d


def weighted_vendor(rng: random.Random, pool: list[Vendor]) -> Vendor:
    return rng.choices(pool, weights=[v.weight for v in pool])[0]


def scaled(n: int, f: float, floor: int = 3) -> int:
    return max(floor, round(n * f))


def build_documents(rng: random.Random, comps, vendors: list[Vendor], n_docs: int, f: float):
    fac = DocFactory(rng, comps)
    by_profile: dict[str, list[Vendor]] = {}
    for v in vendors:
        by_profile.setdefault(v.profile, []).append(v)
    regular_pool = [v for v in vendors if v.profile in ("transfer", "cheque")]
    dd_pool = by_profile.get("dd", [])
    structures: dict[str, list] = {
        "instalments": [],
        "recurring": [],
        "next_pair": [],
        "same_number": [],
        "cn_reversal": [],
        "reissue": [],
        "year_rollover": [],
        "tie": [],
        "combo": [],
        "short": [],
        "similar": [],
    }

    # --- recurring: rent (paid by standing order on the 1st) and monthly subscriptions
    for v in by_profile.get("rent", []):
        net = D(rng.choice([6500, 8200, 9850, 12400, 14750])) + D(rng.choice([0, 50, 75]))
        rate = comps[v.primary].std_rate
        for m in range(1, 12):
            month1 = dt.date(2026, m, 1)
            inv_d = prev_bd(dt.date(2026 if m > 1 else 2025, m - 1 if m > 1 else 12, 20))
            d = fac.new(v, v.primary, inv_d, net=net, rate=rate, series="rec", tags={"rent"})
            d.due = next_bd(month1)
            d.period = month1
            structures["recurring"].append(d)
    for v in by_profile.get("subscription", []) + by_profile.get("subscription_transfer", []):
        net = D(rng.choice(["1890.00", "2450.00", "3120.00", "745.00", "5600.00"]))
        rate = comps[v.primary].std_rate
        for k in range(11):
            yr, m = (2025, 12) if k == 0 else (2026, k)
            d = fac.new(v, v.primary, next_bd(dt.date(yr, m, 1)), net=net, rate=rate, series="rec", tags={"subscr"})
            structures["recurring"].append(d)

    # --- instalments: 3-12 invoices on one day, equal amounts, consecutive numbers
    inst_vendors = by_profile.get("instalment", []) + by_profile.get("instalment_dd", [])
    for g in range(scaled(40, f)):
        v = rng.choice(inst_vendors)
        k = rng.choices(range(3, 13), weights=[22, 18, 16, 10, 8, 6, 5, 5, 4, 6])[0]
        day = pick_date(rng, START, INV_LAST - days(20))
        net = rand_net(rng, "EUR", 4200, 0.8)
        rate = tax_rate(rng, comps[v.primary], v)
        grp = []
        for i in range(k):
            d = fac.new(v, v.primary, day, net=net, rate=rate, series="inst", tags={"instalment"})
            d.group, d.inst_index, d.prio = g, i, i
            d.due = day + days(14 + 30 * i)
            grp.append(d)
        structures["instalments"].append(grp)

    # --- regular invoices
    n_regular = max(50, n_docs - len(fac.docs) - scaled(470, f))
    for _ in range(n_regular):
        pool = dd_pool if rng.random() < 0.06 else regular_pool
        v = weighted_vendor(rng, pool)
        comp = v.primary if rng.random() < 0.85 else rng.choice(v.serves)
        if v.alias is not None and rng.random() < 0.2:
            v = v.alias  # some of a supplier's invoices are legitimately booked under its second vendor id
        fac.new(v, comp, pick_date(rng), tags={"regular"})
    regular = [d for d in fac.docs if "regular" in d.tags]

    def eur_transfer_doc(pred=lambda d: True):
        for _ in range(5000):
            d = rng.choice(regular)
            if (
                d.currency == "EUR"
                and d.vendor.profile == "transfer"
                and d.kind == "invoice"
                and not d.tags - {"regular"}
                and d.vendor.alias is None
                and pred(d)
            ):
                return d
        raise RuntimeError("no candidate document")

    # --- next invoice of the same supplier: consecutive number, similar amount, next day
    for _ in range(scaled(45, f)):
        a = eur_transfer_doc(
            lambda d: d.inv_date.weekday() < 4 and is_bd(d.inv_date + days(1)) and d.inv_date + days(1) <= INV_LAST
        )
        a.tags.add("next_a")
        a.prio = 9
        b = fac.new(
            a.vendor,
            a.company,
            a.inv_date + days(1),
            net=q2(a.net * D(str(1 + rng.uniform(-0.04, 0.04)))),
            rate=a.rate,
            tags={"next_b"},
        )
        b.prio, b.follow = 0, a
        structures["next_pair"].append((a, b))

    # --- credit note reversing an invoice (same number range), then the corrected invoice re-issued
    n_rev, n_reissue = scaled(45, f), scaled(40, f)
    for i in range(n_rev):
        a = eur_transfer_doc(lambda d: d.inv_date <= INV_LAST - days(30))
        a.tags.add("reversed")
        cn = fac.new(
            a.vendor,
            a.company,
            a.inv_date + days(rng.randint(2, 8)),
            kind="credit_note",
            net=a.net,
            rate=a.rate,
            series="inv",
            tags={"reversal_cn"},
        )
        cn.follow = a
        structures["cn_reversal"].append((a, cn))
        if i < n_reissue:
            r = fac.new(
                a.vendor, a.company, cn.inv_date + days(rng.randint(0, 3)), net=a.net, rate=a.rate, tags={"reissue"}
            )
            structures["reissue"].append((a, r))

    # --- two open invoices, same supplier, equal amounts, different numbers (a genuine tie for a payment)
    for _ in range(scaled(25, f)):
        a = eur_transfer_doc(lambda d: d.inv_date <= INV_LAST - days(60) and d.vendor.family is None)
        a.tags.add("tie")
        t = fac.new(a.vendor, a.company, a.inv_date + days(rng.randint(26, 35)), net=a.net, rate=a.rate, tags={"tie"})
        structures["tie"].append((a, t))

    # --- a named invoice whose amount another combination of open invoices also adds up to
    for _ in range(scaled(40, f)):
        a = eur_transfer_doc(lambda d: d.gross >= 600 and d.inv_date <= INV_LAST - days(60))
        a.tags.add("combo_a")
        gb = q2(a.gross * D(str(rng.uniform(0.25, 0.75))))
        b = fac.new(
            a.vendor,
            a.company,
            max(START, a.inv_date - days(rng.randint(0, 18))),
            gross=gb,
            rate=a.rate,
            tags={"combo_part"},
        )
        c = fac.new(
            a.vendor,
            a.company,
            max(START, a.inv_date - days(rng.randint(0, 18))),
            gross=a.gross - gb,
            rate=a.rate,
            tags={"combo_part"},
        )
        structures["combo"].append((a, b, c))

    # --- a named invoice paid a few euros short, the short amount equal to another open invoice
    for _ in range(scaled(40, f)):
        a = eur_transfer_doc(lambda d: d.gross >= 300 and d.inv_date <= INV_LAST - days(60))
        a.tags.add("short_a")
        delta = q2(D(rng.randint(100, 999)) / 100)
        b = fac.new(
            a.vendor,
            a.company,
            max(START, a.inv_date - days(rng.randint(1, 15))),
            gross=a.gross - delta,
            rate=a.rate,
            tags={"short_b"},
        )
        structures["short"].append((a, b, delta))

    # --- suppliers sharing a first word, equal open amounts
    fams: dict[tuple[str, str], list[Vendor]] = {}
    for v in vendors:
        if v.family and v.profile == "transfer":
            fams.setdefault((v.family, v.primary), []).append(v)
    fam_list = [fams[k] for k in sorted(fams)]
    for _ in range(scaled(40, f)):
        fam = rng.choice(fam_list)
        v1, v2 = rng.sample(fam, 2)
        day = pick_date(rng, START, INV_LAST - days(60))
        x = fac.new(v1, v1.primary, day, tags={"similar_x"})
        y = fac.new(v2, v2.primary, day + days(rng.randint(-6, 6)), net=x.net, rate=x.rate, tags={"similar_y"})
        if y.inv_date < START:
            y.inv_date = START
        structures["similar"].append((x, y))

    # --- general credit notes (returns, price differences): some written with negative amounts
    for _ in range(scaled(165, f)):
        a = eur_transfer_doc(lambda d: d.inv_date <= INV_LAST - days(40))
        cn = fac.new(
            a.vendor,
            a.company,
            a.inv_date + days(rng.randint(3, 30)),
            kind="credit_note",
            net=q2(a.net * D(str(rng.uniform(0.04, 0.35)))),
            rate=a.rate,
            series="cn",
            tags={"cn"},
        )
        cn.follow = a
    return fac, structures


def _style_numbers(v: Vendor, series: str) -> tuple:
    if series == "inv":
        fmt, per_year, lo, hi, _gap = STYLES[v.style]
        return (lambda y, m, n: fmt(y, m, n)), per_year, lo, hi
    if series == "cn":
        cn_fmt, lo, hi = CN_STYLES[v.cn_style]
        return (lambda y, m, n: cn_fmt(y, n)), ("Y" in v.cn_style), lo, hi
    if series == "inst":
        st = int(v.vid[1:]) % 3
        fmts = [lambda y, m, n: f"INST-{y}-{n:03d}", lambda y, m, n: f"TZ-{y}-{n:04d}", lambda y, m, n: f"RATE-{n:05d}"]
        return fmts[st], st < 2, 1, 40
    if series == "rec":
        st = int(v.vid[1:]) % 2
        fmts = (
            [lambda y, m, n: f"MR-{n:05d}", lambda y, m, n: f"M{n}"]
            if v.profile == "rent"
            else [lambda y, m, n: f"SUB-{n:07d}", lambda y, m, n: f"ABO{n:06d}"]
        )
        return fmts[st], False, 1000, 9000
    raise ValueError(series)


def owner(v: Vendor) -> Vendor:
    """The supplier behind a vendor id: a second vendor id numbers its documents in the first one's sequence."""
    return v.alias_of or v


def assign_numbers(rng: random.Random, fac: DocFactory, vendors: list[Vendor]) -> None:
    by_vs: dict[tuple[str, str], list[Doc]] = {}
    for d in fac.docs:
        by_vs.setdefault((owner(d.vendor).vid, d.series), []).append(d)
    for (_vid, series), docs in sorted(by_vs.items()):
        v = owner(docs[0].vendor)
        fmt, per_year, lo, hi = _style_numbers(v, series)
        docs.sort(key=lambda d: (d.inv_date, d.group if d.group is not None else -1, d.prio, d.key))
        counters = {}
        last_group = None
        for d in docs:
            y = d.inv_date.year if per_year else 0
            if y not in counters:
                counters[y] = (
                    rng.randint(lo, hi) if (y in (0, 2025) or not per_year) else rng.randint(1, max(2, lo // 5))
                )
                n = counters[y]
            else:
                if d.follow is not None or series in ("rec",) or (series == "inst" and d.group == last_group):
                    step = 1
                elif series == "inst":
                    step = rng.randint(1, 3)
                else:
                    step = rng.randint(1, v.gap)
                n = counters[y] + step
            counters[y] = n
            last_group = d.group
            d.seq = n
            d.number = fmt(d.inv_date.year, d.inv_date.month, n)
        v.seq[series] = counters


def norm_no(s: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", s.upper())


SIMPLE_STYLES = {"n", "INV-n", "n7z", "Y/4", "RE Y/n", "Y-M-4"}
ROLLOVER_STYLES = {"INV-Y-6", "RE Y/n", "RY5", "F-Y-5", "FAyy/6", "Y/4", "Y6", "RG-yy-4", "INV/Y/n", "SB-Y-4"}


def finish_documents(rng: random.Random, comps, fac: DocFactory, vendors, structures, f: float) -> None:
    docs = fac.docs
    plain = [d for d in docs if d.tags == {"regular"} and d.kind == "invoice"]
    # the same invoice number at two different suppliers of the same company
    by_comp_style: dict[tuple[str, str], list[Doc]] = {}
    for d in plain:
        if d.vendor.style in SIMPLE_STYLES and d.vendor.profile == "transfer" and d.currency == "EUR":
            by_comp_style.setdefault((d.company, d.vendor.style), []).append(d)
    vendor_norms: dict[str, set[str]] = {}
    for d in docs:
        vendor_norms.setdefault(owner(d.vendor).vid, set()).add(norm_no(d.number))
    keys = sorted(by_comp_style)
    made, tries = 0, 0
    while made < scaled(45, f) and tries < 20000:
        tries += 1
        lst = by_comp_style[rng.choice(keys)]
        d1, d2 = rng.sample(lst, 2) if len(lst) > 1 else (lst[0], lst[0])
        if (
            d1.vendor.tax_id == d2.vendor.tax_id
            or d1.tags != {"regular"}
            or d2.tags != {"regular"}
            or abs((d1.inv_date - d2.inv_date).days) > 60
            or norm_no(d1.number) in vendor_norms[owner(d2.vendor).vid]
        ):
            continue
        vendor_norms[owner(d2.vendor).vid].discard(norm_no(d2.number))
        d2.number = d1.number
        vendor_norms[owner(d2.vendor).vid].add(norm_no(d2.number))
        if made % 3 == 0:
            d2.net, d2.tax, d2.gross, d2.rate = d1.net, d1.tax, d1.gross, d1.rate
        d1.tags.add("same_number")
        d2.tags.add("same_number")
        structures["same_number"].append((d1, d2))
        made += 1
    # year rollover: RE 2025/42 and RE 2026/42 from the same supplier, same recurring amount. The supplier's
    # December 2025 numbers are re-based so that 2025/n sits in sequence with its other December invoices.
    made, tries, done = 0, 0, set()
    dec = [d for d in INV_BDAYS if d.year == 2025 and d.day <= 19]
    while made < scaled(40, f) and tries < 20000:
        tries += 1
        d = rng.choice(plain)
        v = d.vendor
        if (
            v.style not in ROLLOVER_STYLES
            or d.inv_date.year != 2026
            or d.tags != {"regular"}
            or v.vid in done
            or d.currency != "EUR"
            or v.profile != "transfer"
            or not 3 <= d.seq <= 400
        ):
            continue
        v2025 = [x for x in docs if owner(x.vendor) is v and x.series == "inv" and x.inv_date.year == 2025]
        if any(x.tags != {"regular"} for x in v2025):
            continue
        fmt = STYLES[v.style][0]
        r = fac.new(v, d.company, rng.choice(dec), net=d.net, rate=d.rate, tags={"rollover_old"})
        lst = sorted(v2025 + [r], key=lambda x: (x.inv_date, x.key))
        i0 = lst.index(r)
        seqs = [0] * len(lst)
        seqs[i0] = d.seq
        for i in range(i0 - 1, -1, -1):
            seqs[i] = seqs[i + 1] - rng.randint(1, v.gap)
        for i in range(i0 + 1, len(lst)):
            seqs[i] = seqs[i - 1] + rng.randint(1, v.gap)
        if seqs[0] < 1:
            fac.docs.remove(r)
            continue
        for x, n in zip(lst, seqs, strict=True):
            vendor_norms[v.vid].discard(norm_no(x.number))
            x.seq, x.number = n, fmt(x.inv_date.year, x.inv_date.month, n)
            vendor_norms[v.vid].add(norm_no(x.number))
        done.add(v.vid)
        d.tags.add("rollover_new")
        structures["year_rollover"].append((r, d))
        made += 1
    # a fifth of the discount-term invoices get a gross whose discount ends in exactly half a cent, where a payer's
    # half-up rounding and a half-even implementation differ by 0.01
    for d in docs:
        _n, ddays, pct = TERMS[owner(d.vendor).terms]
        if d.tags == {"regular"} and d.kind == "invoice" and ddays and rng.random() < 0.2:
            assert pct is not None  # terms with discount days have a discount rate
            for k in range(1, 400):
                g = d.gross + CENT * k
                if (g * pct).quantize(CENT, ROUND_HALF_UP) != (g * pct).quantize(CENT, ROUND_HALF_EVEN):
                    d.net, d.tax, d.gross = amounts_from_gross(g, d.rate)
                    break
    for d in docs:
        v = d.vendor
        if d.due is None:
            d.due = d.inv_date + days(TERMS[v.terms][0]) if d.kind == "invoice" else d.inv_date
        if d.kind == "invoice" and d.series == "inv" and v.uses_rf:
            base = norm_no(d.number)
            d.rf = (
                rf_reference(base)
                if (rng.random() < 0.5 and len(base) <= 21)
                else rf_reference(f"{v.rf_base}{d.seq % 1000000:06d}")
            )
        if d.kind == "credit_note":
            draw = rng.random()
            d.signed = draw >= 0.55
            d.type_field = "invoice" if draw >= 0.8 else "credit_note"
        d.corr = "corr-" + hashlib.sha1(f"{d.key}-{d.number}".encode()).hexdigest()[:12]


def plan_capture(rng: random.Random, d: Doc, stuck_ok: bool) -> None:
    r = rng.random()
    delay = rng.randint(0, 1) if r < 0.4 else rng.randint(1, 4) if r < 0.8 else rng.randint(3, 9)
    cd = d.inv_date + days(delay)
    if r >= 0.4:
        cd = next_bd(cd)
    d.capture = at(cd, rng.randint(6, 17), rng.randint(0, 59), rng.randint(0, 59))
    if stuck_ok and rng.random() < 0.015:
        d.tags.add("never_posted")
        if rng.random() < 0.5:
            d.approve = d.capture + dt.timedelta(hours=rng.randint(2, 40))
        return
    ap = d.capture + dt.timedelta(days=rng.choice([0, 0, 0, 1, 1, 2, 3]), hours=rng.randint(1, 5))
    pt = ap + dt.timedelta(days=rng.choice([0, 0, 1, 1, 2]), hours=rng.randint(1, 4))
    limit = d.capture + dt.timedelta(days=5)
    if pt > limit:
        pt = limit
    if ap >= pt:
        ap = pt - dt.timedelta(hours=1)
        if ap <= d.capture:
            ap = d.capture + (pt - d.capture) / 2
    d.approve, d.post = ap, pt


# --- how numbers get mangled when they are re-keyed, scanned or typed by a payer -----------------------------
OCR_D2L = {"0": "O", "1": "I", "5": "S", "8": "B"}
OCR_L2D = {"O": "0", "I": "1", "S": "5", "B": "8"}


def mut_punct(num: str, rng: random.Random) -> str | None:
    opts = []
    stripped = re.sub(r"[^0-9A-Za-z]", "", num)
    if stripped != num:
        opts += [stripped, stripped]
    if "-" in num:
        opts += [num.replace("-", "/"), num.replace("-", " "), num.replace("-", "")]
    if "/" in num:
        opts += [num.replace("/", "-"), num.replace("/", ""), num.replace("/", " / ")]
    if " " in num:
        opts += [num.replace(" ", ""), num.replace(" ", "-"), num.replace(" ", ".")]
    if re.search("[A-Z]", num):
        opts.append(num.lower())
    m = re.fullmatch(r"(\d{4})(\d{4,})", num)
    if m:
        opts += [f"{m.group(1)}-{m.group(2)}", f"{m.group(1)}/{m.group(2)}"]
    if re.fullmatch(r"\d{7,}", num) and not m:
        opts.append(f"{num[:3]} {num[3:]}")
    opts = [o for o in opts if o != num]
    return rng.choice(opts) if opts else None


def mut_leading_zeros(num: str, rng: random.Random) -> str | None:
    m: re.Match[str] | None
    groups = [m for m in re.finditer(r"\d+", num) if m.group().startswith("0") and len(m.group()) > 1]
    if groups:
        m = rng.choice(groups)
        return num[: m.start()] + (m.group().lstrip("0") or "0") + num[m.end() :]
    if re.fullmatch(r"[1-9]\d{2,7}", num):
        return "00" + num
    m = re.search(r"(\d+)$", num)
    if m and len(m.group(1)) <= 5 and not m.group(1).startswith("0"):
        return num[: m.start()] + "0" + m.group(1)
    return None


def mut_prefix(num: str, rng: random.Random) -> str | None:
    m = re.match(r"^([A-Za-z]+[-/ .]*)(?=\d)", num)
    if m:
        return num[m.end() :]
    if re.fullmatch(r"\d[\d/-]*", num):
        return rng.choice(["RE-", "INV-", "RE ", "NR "]) + num
    return None


def mut_ocr(num: str, rng: random.Random) -> str | None:
    pos = [i for i, c in enumerate(num) if c in OCR_D2L or c in OCR_L2D]
    digit_pos = [i for i in pos if num[i] in OCR_D2L]
    if not pos:
        return None
    i = rng.choice(digit_pos) if digit_pos and rng.random() < 0.8 else rng.choice(pos)
    c = num[i]
    rep = OCR_D2L.get(c) or OCR_L2D[c]
    if c == "1" and rng.random() < 0.3:
        rep = "l"
    return num[:i] + rep + num[i + 1 :]


def _last_group_int(s: str) -> int | None:
    m = re.findall(r"\d+", s)
    return int(m[-1]) if m else None


def mut_digit(num: str, rng: random.Random) -> str | None:
    pos = [i for i, c in enumerate(num) if c.isdigit()]
    if len(pos) < 3:
        return None
    for _ in range(20):
        i = rng.choice(pos)
        new = num[:i] + rng.choice([x for x in "0123456789" if x != num[i]]) + num[i + 1 :]
        a, b = _last_group_int(num), _last_group_int(new)
        if a is not None and b is not None and abs(a - b) == 1:
            continue  # a neighbouring number would read as the next invoice, not a typo
        return new
    return None


def mut_swap(num: str, rng: random.Random, in_year: bool | None = None) -> str | None:
    pairs = [i for i in range(len(num) - 1) if num[i].isdigit() and num[i + 1].isdigit() and num[i] != num[i + 1]]
    if not pairs:
        return None
    yr = [i for i in pairs if any(num[j : j + 4] in ("2025", "2026") and j <= i < j + 3 for j in range(len(num)))]
    if in_year is None:
        in_year = rng.random() < 0.35
    pool = yr if (in_year and yr) else [i for i in pairs if i not in yr] or pairs
    i = rng.choice(pool)
    new = num[:i] + num[i + 1] + num[i] + num[i + 2 :]
    a, b = _last_group_int(num), _last_group_int(new)
    if a is not None and b is not None and abs(a - b) == 1:
        return None
    return new


def mut_suffix(num: str, rng: random.Random) -> str | None:
    return num + rng.choice(["/1", "-A", "-1", " A", "/2", "-01", " (1)"])


NUMBER_MUTATORS = {
    "punctuation": mut_punct,
    "leading_zeros": mut_leading_zeros,
    "prefix_dropped": mut_prefix,
    "ocr_misread": mut_ocr,
    "digit_typo": mut_digit,
    "digit_swap": mut_swap,
    "suffix_added": mut_suffix,
}
DUP_PLAN = [
    ("exact_resend", 60),
    ("punctuation", 60),
    ("leading_zeros", 45),
    ("prefix_dropped", 45),
    ("ocr_misread", 45),
    ("digit_typo", 45),
    ("digit_swap", 45),
    ("suffix_added", 40),
    ("net_as_gross", 40),
    ("day_month_swapped", 40),
    ("receipt_date", 50),
    ("second_vendor_id", 45),
    ("amount_off_cent", 40),
    ("amount_rounding", 40),
    ("combination", 50),
    ("credit_note_copy", 40),
]
COMBOS = [
    ("punctuation", "receipt_date"),
    ("ocr_misread", "second_vendor_id"),
    ("leading_zeros", "amount_off_cent"),
    ("prefix_dropped", "day_month_swapped"),
    ("punctuation", "second_vendor_id"),
    ("digit_typo", "receipt_date"),
    ("net_as_gross", "receipt_date"),
    ("punctuation", "amount_rounding"),
]


def make_duplicates(rng: random.Random, fac: DocFactory, f: float) -> list[Doc]:
    docs = list(fac.docs)
    vendor_norms: dict[str, dict[str, list[Doc]]] = {}
    for d in docs:
        vendor_norms.setdefault(owner(d.vendor).vid, {}).setdefault(norm_no(d.number), []).append(d)
    used: set[int] = set()
    dups: list[Doc] = []

    def base_ok(d: Doc) -> bool:
        assert d.capture is not None  # plan_capture has run on every document
        return (
            d.key not in used
            and d.tags <= {"regular"}
            and d.kind == "invoice"
            and d.post is not None
            and d.capture.date() <= END - days(50)
        )

    def number_free(v: Vendor, num: str, orig: Doc) -> bool:
        others = [x for x in vendor_norms.get(owner(v).vid, {}).get(norm_no(num), []) if x is not orig]
        return not others and norm_no(num) != ""

    def apply(kind: str, orig: Doc, c: dict) -> bool:
        if kind in NUMBER_MUTATORS:
            new = NUMBER_MUTATORS[kind](c["number"], rng)
            if not new or new == c["number"] or not number_free(c["vendor"], new, orig):
                return False
            if kind != "punctuation" and norm_no(new) == norm_no(c["number"]) and kind != "ocr_misread":
                return False
            c["number"] = new
        elif kind == "net_as_gross":
            if orig.tax <= 0:
                return False
            g = c["net"]
            c["net"], c["tax"], c["gross"] = amounts_from_gross(g, c["rate"])
        elif kind == "amount_off_cent":
            s = rng.choice([CENT, -CENT])
            c["gross"] += s
            if c["tax"] + s >= 0 and c["tax"] > 0:
                c["tax"] += s
            else:
                c["net"] += s
        elif kind == "amount_rounding":
            g = c["gross"]
            if g == g.quantize(D("1")):
                return False
            new = (
                g.quantize(D("1"), rounding=ROUND_HALF_UP)
                if rng.random() < 0.6
                else g.quantize(D("0.1"), rounding=ROUND_HALF_UP)
            )
            if new == g or new <= 0:
                return False
            c["gross"] = q2(new)
            if c["tax"] > 0:
                c["tax"] = c["gross"] - c["net"]
            else:
                c["net"] = c["gross"]
        elif kind == "day_month_swapped":
            assert orig.capture is not None and orig.due is not None  # set on every document by now
            d0 = c["inv_date"]
            if d0.day > 12 or d0.day == d0.month:
                return False
            nd = dt.date(d0.year, d0.day, d0.month)
            if abs((nd - d0).days) < 3 or nd > orig.capture.date():
                return False  # a keyed date later than the day the copy arrives would not get past capture
            c["inv_date"] = nd
            c["due"] = nd + (orig.due - orig.inv_date)
        elif kind == "receipt_date":
            assert orig.capture is not None and orig.due is not None  # set on every document by now
            nd = orig.capture.date() + days(rng.randint(0, 3))
            if (nd - orig.inv_date).days < 2:
                nd = orig.inv_date + days(rng.randint(2, 9))
            c["inv_date"] = nd
            c["due"] = nd + (orig.due - orig.inv_date)
        elif kind == "second_vendor_id":
            if orig.vendor.alias is None:
                return False
            c["vendor"] = orig.vendor.alias
        elif kind == "exact_resend":
            pass
        else:
            raise ValueError(kind)
        return True

    for cls, n in DUP_PLAN:
        target = scaled(n, f)
        made = tries = 0
        while made < target and tries < 40000:
            tries += 1
            if cls == "credit_note_copy":
                orig = rng.choice(docs)
                assert orig.capture is not None  # plan_capture has run on every document
                if orig.key in used or orig.kind != "credit_note" or "cn" not in orig.tags or orig.post is None:
                    continue
                if orig.capture.date() > END - days(40):
                    continue
            else:
                orig = rng.choice(docs)
                assert orig.capture is not None  # plan_capture has run on every document
                if not base_ok(orig):
                    continue
                if cls == "second_vendor_id" and orig.vendor.alias is None:
                    continue
                if cls == "combination" and orig.vendor.alias is None and rng.random() < 0.5:
                    continue
            c: dict = {
                "number": orig.number,
                "vendor": orig.vendor,
                "net": orig.net,
                "tax": orig.tax,
                "gross": orig.gross,
                "rate": orig.rate,
                "inv_date": orig.inv_date,
                "due": orig.due,
            }
            variants = [cls]
            if cls == "combination":
                variants = list(rng.choice(COMBOS))
            elif cls == "credit_note_copy":
                variants = ["exact_resend"] + (["punctuation"] if rng.random() < 0.3 else [])
            if not all(apply(k, orig, c) for k in variants):
                continue
            dup = Doc(
                0,
                c["vendor"],
                orig.company,
                orig.kind,
                c["inv_date"],
                orig.currency,
                c["net"],
                c["tax"],
                c["gross"],
                c["rate"],
                series=orig.series,
                number=c["number"],
                due=c["due"],
                rf=orig.rf,
            )
            fac.key += 1
            dup.key = fac.key
            dup.dup_of, dup.dup_class = orig, cls
            dup.tags = {"dup"}
            dup.variants = variants
            if cls == "credit_note_copy":
                if orig.signed:
                    dup.signed, dup.type_field = False, "credit_note"
                else:
                    dup.signed, dup.type_field = True, rng.choice(["invoice", "credit_note"])
            else:
                dup.signed, dup.type_field = orig.signed, orig.type_field
            r = rng.random()
            if r < 0.25:
                cap = orig.capture + dt.timedelta(minutes=rng.randint(3, 400))
            elif r < 0.5:
                cap = orig.capture + dt.timedelta(days=rng.randint(1, 6), hours=rng.randint(0, 5))
            else:
                cap = orig.capture + dt.timedelta(days=rng.randint(14, 45), hours=rng.randint(0, 5))
            if cap.date() < dup.inv_date:
                cap = at(dup.inv_date, 9, rng.randint(0, 59))
            if cap.date() > END:
                continue
            dup.capture = cap
            if rng.random() < 0.5:
                dup.approve = cap + dt.timedelta(hours=rng.randint(2, 30))
            dup.corr = "corr-" + hashlib.sha1(f"dup-{dup.key}".encode()).hexdigest()[:12]
            used.add(orig.key)
            vendor_norms.setdefault(owner(dup.vendor).vid, {}).setdefault(norm_no(dup.number), []).append(dup)
            dups.append(dup)
            fac.docs.append(dup)
            made += 1
    return dups


# --------------------------------------------------------------------------------------------------------------
# bank entries
# --------------------------------------------------------------------------------------------------------------
@dataclass(eq=False)
class Tx:
    amount: Decimal | None = None  # AmtDtls/TxAmt (None: the bank shows no amount for this detail)
    e2e: str = "NOTPROVIDED"
    name: str | None = None
    iban: str | None = None
    other_acct: str | None = None
    bic: str | None = None
    ustrd: list = field(default_factory=list)
    strd: list = field(default_factory=list)
    instd: tuple | None = None  # (amount, currency, rate) for a foreign-currency payment
    purp: str | None = None
    rtr: tuple | None = None  # (reason code, additional info)
    mndt: str | None = None
    ci: str | None = None
    chq: str | None = None
    pmtinf: str | None = None
    ref: str | None = None
    label: dict | None = None
    entry: Entry | None = None
    chrgs: list = field(default_factory=list)
    party_role: str = "Cdtr"  # Cdtr for our debits, Dbtr for credits
    ultimate: str | None = None
    # set by Planner.run_tx on our payment runs' instructions only (no default, not in __init__ or repr)
    docs: list[Doc] = field(init=False, repr=False)
    currency: str = field(init=False, repr=False)
    vendor: Vendor = field(init=False, repr=False)
    exec_day: dt.date = field(init=False, repr=False)


@dataclass(eq=False)
class Entry:
    company: str
    book: dt.date
    amount: Decimal
    cdi: str
    kind: str
    txs: list = field(default_factory=list)
    val: dt.date | None = None
    btch: dict | None = None
    chrgs: list = field(default_factory=list)  # (amount, bearer)
    addtl: str | None = None
    ref: str | None = None
    label: dict | None = None
    in054: bool = False
    order: float = 0.0
    file: str | None = None
    file054: str | None = None

    def units(self) -> list:
        """The labeled lines of this entry: each detail of a several-detail entry, else the entry itself."""
        return list(self.txs) if len(self.txs) > 1 else [self]


BTC = {  # kind -> (ISO domain, family, sub-family)
    "sct_out": ("PMNT", "ICDT", "ESCT"),
    "sct_batch": ("PMNT", "ICDT", "ESCT"),
    "xb_out": ("PMNT", "ICDT", "XBCT"),
    "urgent_out": ("PMNT", "ICDT", "DMCT"),
    "stdo": ("PMNT", "ICDT", "STDO"),
    "dd_out": ("PMNT", "RDDT", "ESDD"),
    "b2b_out": ("PMNT", "RDDT", "BBDD"),
    "cheque": ("PMNT", "ICHQ", "CCHQ"),
    "sct_in": ("PMNT", "RCDT", "ESCT"),
    "return_in": ("PMNT", "ICDT", "RRTN"),
    "salary": ("PMNT", "ICDT", "SALA"),
    "fee": ("ACMT", "MDOP", "CHRG"),
    "interest": ("ACMT", "MDOP", "INTR"),
    "xb_in": ("PMNT", "RCDT", "XBCT"),
}
# proprietary codes: DK style "<SWIFT code>+<GVC>+<Primanota>" with issuer DK for the German account;
# illustrative bank-internal codes for the Dutch (3 digits) and French (CFONB-like 2 characters) accounts
PRTRY: dict[str, dict[str, str | tuple[str, str]]] = {
    "DK": {
        "sct_out": ("NTRF", "116"),
        "sct_batch": ("NTRF", "191"),
        "xb_out": ("NTRF", "201"),
        "urgent_out": ("NTRF", "118"),
        "stdo": ("NSTO", "117"),
        "dd_out": ("NDDT", "105"),
        "b2b_out": ("NDDT", "105"),
        "sct_in": ("NTRF", "166"),
        "return_in": ("NRTI", "159"),
        "salary": ("NTRF", "191"),
        "fee": ("NCHG", "808"),
        "interest": ("NINT", "805"),
        "xb_in": ("NTRF", "202"),
        "cheque": ("NCHK", "101"),
    },
    "NL": {
        "sct_out": "100",
        "sct_batch": "120",
        "xb_out": "140",
        "urgent_out": "105",
        "stdo": "102",
        "dd_out": "064",
        "b2b_out": "065",
        "sct_in": "541",
        "return_in": "544",
        "salary": "122",
        "fee": "093",
        "interest": "095",
        "xb_in": "543",
        "cheque": "070",
    },
    "FR": {
        "sct_out": "06",
        "sct_batch": "06",
        "xb_out": "06",
        "urgent_out": "06",
        "stdo": "06",
        "dd_out": "A1",
        "b2b_out": "A1",
        "sct_in": "05",
        "return_in": "05",
        "salary": "06",
        "fee": "B1",
        "interest": "B2",
        "xb_in": "05",
        "cheque": "01",
    },
}
BOOKING_TEXT = {
    "DK": {
        "sct_out": "SEPA-UEBERWEISUNG",
        "sct_batch": "SAMMEL-UEBERWEISUNG",
        "xb_out": "AUSLANDSUEBERWEISUNG",
        "urgent_out": "EILUEBERWEISUNG",
        "stdo": "DAUERAUFTRAG",
        "dd_out": "SEPA-BASISLASTSCHRIFT",
        "b2b_out": "SEPA-FIRMENLASTSCHRIFT",
        "sct_in": "SEPA-GUTSCHRIFT",
        "return_in": "RUECKUEBERWEISUNG",
        "salary": "LOHN/GEHALT SAMMLER",
        "fee": "ENTGELTABSCHLUSS",
        "interest": "ZINSABSCHLUSS",
        "xb_in": "AUSLANDSGUTSCHRIFT",
        "cheque": "SCHECK",
    },
    "NL": {
        "sct_out": "SEPA OVERBOEKING",
        "sct_batch": "VERZAMELBETALING",
        "xb_out": "BUITENLANDSE BETALING",
        "urgent_out": "SPOEDBETALING",
        "stdo": "PERIODIEKE OVERB.",
        "dd_out": "SEPA INCASSO",
        "b2b_out": "SEPA INCASSO ZAKELIJK",
        "sct_in": "SEPA OVERBOEKING",
        "return_in": "TERUGBOEKING",
        "salary": "SALARISBETALING",
        "fee": "KOSTEN BETALINGSVERKEER",
        "interest": "RENTE",
        "xb_in": "BUITENLANDSE ONTVANGST",
        "cheque": "CHEQUE",
    },
    "FR": {
        "sct_out": "VIR SEPA EMIS",
        "sct_batch": "REMISE VIR SEPA",
        "xb_out": "VIR INTERNATIONAL EMIS",
        "urgent_out": "VIR URGENT EMIS",
        "stdo": "VIR PERMANENT",
        "dd_out": "PRLV SEPA",
        "b2b_out": "PRLV SEPA B2B",
        "sct_in": "VIR SEPA RECU",
        "return_in": "RETOUR VIR SEPA",
        "salary": "VIR SALAIRES",
        "fee": "FRAIS TENUE DE COMPTE",
        "interest": "INTERETS",
        "xb_in": "VIR INTERNATIONAL RECU",
        "cheque": "CHEQUE",
    },
}

FX_BASE = {"USD": D("1.1320"), "GBP": D("0.8610"), "CHF": D("0.9420"), "SEK": D("11.2300")}


def fx_rate(ccy: str, d: dt.date) -> Decimal:
    h = int(hashlib.sha1(f"{ccy}{d}".encode()).hexdigest()[:6], 16) / 0xFFFFFF
    drift = math.sin((d - START).days / 37.0) * 0.018 + (h - 0.5) * 0.006
    return (FX_BASE[ccy] * D(str(1 + drift))).quantize(D("0.0001"), rounding=ROUND_HALF_UP)


LANG_TEMPLATES = {
    "de": {
        "one": [
            "RE-NR. {n}",
            "Rechnung {n}",
            "Rechnung Nr. {n} vom {d}",
            "RG {n} KD-NR {c}",
            "Re. {n}",
            "RECHNUNGSNR {n}",
            "Rg. {n}",
            "Rechnungsnummer: {n}, Kundennr. {c}",
            "{n}",
            "RG.NR. {n} {d}",
            "Zahlung Rechnung {n}",
        ],
        "many": ["RG {ns}", "Rechnungen {ns}", "RE-NR. {ns} KD {c}", "Rg. {ns}"],
        "two": ["Re. {n1} u. {n2}", "RG {n1} UND {n2}"],
        "disc": ["abzgl. {p}% Skonto", "ABZ. {p} PROZ. SKONTO", "./. {p}% Skonto", "- {p}% SKONTO"],
        "cn": [
            "Rg. {n} abzgl. GS {cn}",
            "RE {n} ./. Gutschrift {cn}",
            "Rechnung {n} abzgl. Gutschrift {cn}",
            "RG {n} MINUS GS {cn}",
        ],
        "part": ["Teilzahlung RE {n}", "RE {n} Teilbetrag {k}/{m}", "Rg. {n} {k}. Rate", "RE-NR. {n} TZ {k}"],
        "period": ["MIETE {mm}/{yyyy} {obj}", "Miete {mm}.{yyyy} {obj}", "MIETE + NK {mm}/{yyyy}"],
        "refund": ["Erstattung Gutschrift {cn}", "GUTSCHRIFT {cn} KD {c}", "Rueckzahlung GS {cn}"],
    },
    "en": {
        "one": ["INV {n}", "Invoice {n}", "Invoice no. {n} dd {d}", "PAYMENT INV {n} CUST {c}", "Inv. {n}", "{n}"],
        "many": ["Inv. {ns}", "INV {ns}", "Invoices {ns}", "PAYMENT INV {ns}"],
        "two": ["INV {n1} AND {n2}", "Invoices {n1} & {n2}"],
        "disc": ["less {p}% discount", "LESS {p} PCT EARLY PAYMENT DISCOUNT", "{p}% disc. taken"],
        "cn": ["INV {n} less credit note {cn}", "Invoice {n} minus CN {cn}", "INV {n} LESS CREDIT {cn}"],
        "part": ["Part payment INV {n}", "INV {n} partial {k}/{m}", "INV {n} instalment {k}"],
        "period": ["RENT {mm}/{yyyy} {obj}"],
        "refund": ["Refund credit note {cn}", "REFUND CN {cn} ACCT {c}"],
    },
    "nl": {
        "one": [
            "Factuur {n}",
            "factuurnr. {n} debiteurnr {c}",
            "betaling fact. {n}",
            "FACTUUR {n} KLANTNR {c}",
            "Fact. {n}",
            "{n}",
        ],
        "many": ["facturen {ns}", "FACTUREN {ns} KLANT {c}"],
        "two": ["Fact {n1} en {n2}", "facturen {n1} + {n2}"],
        "disc": ["minus {p}% korting", "-{p}% BETALINGSKORTING"],
        "cn": ["factuur {n} minus creditnota {cn}", "FACT {n} VERREKEND MET CREDITNOTA {cn}"],
        "part": ["deelbetaling factuur {n}", "FACT {n} TERMIJN {k}/{m}"],
        "period": ["HUUR {mm}-{yyyy} {obj}", "huur {mm}/{yyyy} {obj}"],
        "refund": ["Terugbetaling creditnota {cn}", "CREDITNOTA {cn} KLANT {c}"],
    },
    "fr": {
        "one": [
            "FACT {n}",
            "REGLEMENT FACTURE {n}",
            "VIR FACT {n} CLIENT {c}",
            "Facture n {n} du {d}",
            "FACTURE {n}",
            "{n}",
        ],
        "many": ["FACTURES {ns}", "REGLT FACT {ns}", "Factures {ns} client {c}"],
        "two": ["FACT {n1} ET {n2}", "Factures {n1} et {n2}"],
        "disc": ["escompte {p}%", "ESCOMPTE {p} POUR CENT DEDUIT"],
        "cn": ["FACT {n} DEDUCTION AVOIR {cn}", "Facture {n} moins avoir {cn}", "FACT {n} - AV {cn}"],
        "part": ["ACOMPTE SUR FACT {n}", "FACT {n} PAIEMENT PARTIEL {k}/{m}"],
        "period": ["LOYER {mm}/{yyyy} {obj}", "Loyer {mm} {yyyy} {obj}"],
        "refund": ["Remboursement avoir {cn}", "AVOIR {cn} CLIENT {c}"],
    },
}


def fmt_date(d: dt.date, lang: str) -> str:
    return (
        d.strftime("%d.%m.%Y")
        if lang == "de"
        else d.strftime("%d-%m-%Y")
        if lang == "nl"
        else (d.strftime("%d/%m/%Y") if lang == "fr" else d.isoformat())
    )


def join_numbers(nums: list[str], rng: random.Random) -> str:
    """Several numbers as payers write them: 'INV 2026-0042 / 0043' drops what the numbers share."""
    if len(nums) == 2 and rng.random() < 0.45:
        a, b = nums
        m = re.match(r"^(.*?)(\d+)$", a)
        if m and b.startswith(m.group(1)) and re.fullmatch(r"\d+", b[len(m.group(1)) :]) and m.group(1):
            return f"{a} / {b[len(m.group(1)) :]}"
    sep = rng.choice([", ", " / ", " ", "; ", " + ", ","])
    return sep.join(nums)


def wrap_pieces(text: str, mode: str) -> list[str]:
    """Ustrd as banks deliver it: one 140-char piece, or pieces of 35 (camt from SEPA) or 27 (legacy :86:)."""
    text = text[:140]
    if mode == "single" or len(text) <= (35 if mode.endswith("35") else 27):
        return [text]
    width = 35 if mode.endswith("35") else 27
    if mode.startswith("hard"):
        return wrap_fixed(text, width)
    # soft: wrap at blanks so that no protected token is cut
    out, cur = [], ""
    for w in text.split(" "):
        cand = (cur + " " + w) if cur else w
        if len(cand) <= width:
            cur = cand
        else:
            if cur:
                out.append(cur)
            while len(w) > width:
                out.append(w[:width])
                w = w[width:]
            cur = w
    if cur:
        out.append(cur)
    return out


FREE_TAGS = {"regular", "next_a", "next_b", "same_number", "rollover_old", "rollover_new", "reissue", "instalment_ref"}
OBJECTS = {
    "1000": ["BUERO HAFENSTR. 12", "LAGER KAISERKAI 4", "OBJ 0815"],
    "2000": ["KANTOOR WAALHAVEN 7"],
    "3000": ["ENTREPOT QUAI 3", "BUREAUX DOCKS"],
}


class Planner:
    """Decides how every payable document is settled and writes the bank entries that show it."""

    # set by build() and self_check()
    pending_run: list[tuple[dt.date, Doc]]
    unit_by_ref: dict[str, Tx | Entry]
    iban_count: int

    def __init__(self, rng, comps, vendors, fac, structures, f):
        self.rng, self.comps, self.vendors, self.fac, self.st, self.f = rng, comps, vendors, fac, structures, f
        self.entries: list[Entry] = []
        self.runs: dict = {}
        self.vendor_updates: list = []  # (time, vendor, new accounts)
        self.acct_hist = {v.vid: [(dt.date(2000, 1, 1), list(v.accounts))] for v in vendors}
        self.blocked = {}
        self.docs = [d for d in fac.docs if d.dup_of is None]
        self.amount_only: list = []  # (unit, scope, target docs) checked against the open ledger afterwards
        self.all_norms = {}
        for d in fac.docs:
            self.all_norms.setdefault(d.company, set()).add(norm_no(d.number))
            self.all_norms.setdefault(d.company, set()).add(norm_no(d.number).lstrip("0"))
        self.cheque_no = 4711001

    # ---------------------------------------------------------------- helpers
    def lang(self, company: str, v: Vendor) -> str:
        home = {"1000": "de", "2000": "nl", "3000": "fr"}[company]
        if v.country not in (self.comps[company].country, "AT", "BE", "CH") and self.rng.random() < 0.6:
            return "en"
        return home if self.rng.random() < 0.9 else "en"

    def acct_at(self, v: Vendor, d: dt.date) -> tuple[str, str]:
        accts = [a for (since, a) in self.acct_hist[v.vid] if since <= d][-1]
        return accts[0] if len(accts) == 1 or self.rng.random() < 0.7 else self.rng.choice(accts)

    def free(self, d: Doc) -> bool:
        return (
            d.pay_class is None
            and d.kind == "invoice"
            and d.post is not None
            and d.tags <= FREE_TAGS
            and d.dup_of is None
        )

    def take(self, n: int, pred, cls: str) -> list[Doc]:
        cands = [d for d in self.docs if self.free(d) and pred(d)]
        self.rng.shuffle(cands)
        out: list[Doc] = []
        for d in cands:
            if len(out) >= n:
                break
            if d.pay_class is None:
                d.pay_class = cls
                out.append(d)
        return out

    def shift(self, v: Vendor, d: dt.date) -> dt.date:
        for a, b in self.blocked.get(v.vid, []):
            if a <= d <= b:
                d = next_bd(b + days(1))
        return d

    def due_date_pay(self, doc: Doc, lo: dt.date | None = None) -> dt.date | None:
        rng = self.rng
        assert doc.due is not None and doc.post_date is not None  # payments are planned for posted documents
        base = doc.due + days(rng.choice([-6, -3, -2, -1, 0, 0, 0, 1, 1, 2, 3, 5, 8, 13, 21]))
        low = (lo or doc.post_date) + days(1)
        d = self.shift(doc.vendor, next_bd(max(base, low)))
        return d if d <= END else None

    def discount_terms(self, doc: Doc):
        _n, ddays, pct = TERMS[doc.vendor.terms]
        return (ddays, pct) if ddays else (None, None)

    def discount_pay(self, doc: Doc) -> dt.date | None:
        ddays, _pct = self.discount_terms(doc)
        if not ddays:
            return None
        assert doc.post_date is not None  # payments are planned for posted documents
        lo, hi = next_bd(doc.post_date + days(1)), doc.inv_date + days(ddays)
        if lo > hi or hi > END:
            return None
        cands = [x for x in BDAYS if lo <= x <= hi]
        if not cands:
            return None
        d = self.shift(doc.vendor, self.rng.choice(cands))
        return d if d <= hi else None

    @staticmethod
    def discount_amount(doc: Doc, pct: Decimal) -> Decimal:
        return (doc.gross * pct).quantize(CENT, rounding=ROUND_HALF_UP)

    def name_for(self, v: Vendor, channel: str) -> str:
        if channel == "run":
            return sepa_text(v.name)[:70]
        return bank_name(v.name, self.rng)

    def generic_text(self, company: str) -> str:
        """What a payer writes when they write no reference at all."""
        return self.rng.choice(
            ["", "", ""]
            + {
                "1000": ["ZAHLUNG", "Lieferantenzahlung", "Rechnung", "Ihre Rechnung", "Ueberweisung", "LIEFERUNG"],
                "2000": ["Betaling", "BETALING FACTUUR", "Uw factuur", "PAYMENT"],
                "3000": ["REGLEMENT", "Facture", "VIREMENT FOURNISSEUR", "PAIEMENT"],
            }[company]
        )

    def text_for(self, lang: str, key: str, **kw) -> str:
        t = self.rng.choice(LANG_TEMPLATES[lang][key])
        kw.setdefault("c", "")
        return t.format(**kw).strip()

    def doc_text(self, doc: Doc, shown: str | None = None, lang: str | None = None, noise: bool = True) -> str:
        rng = self.rng
        lang = lang or self.lang(doc.company, doc.vendor)
        n = shown if shown is not None else doc.number
        txt = self.text_for(lang, "one", n=n, d=fmt_date(doc.inv_date, lang), c=doc.vendor.cust_no)
        if noise and rng.random() < 0.2:
            txt += rng.choice(
                [
                    f" PO 45000{rng.randint(10000, 99999)}",
                    f" BESTELLUNG 45{rng.randint(10000000, 99999999)}",
                    f" KD {doc.vendor.cust_no}",
                    f" {fmt_date(doc.inv_date, lang)}",
                ]
            )
        return txt

    def render(self, text: str, case: str | None = None, mode: str | None = None) -> list[str]:
        rng = self.rng
        text = sepa_text(text, "ae" if rng.random() < 0.8 else "plain")
        if (case or ("upper" if rng.random() < 0.35 else "keep")) == "upper":
            text = text.upper()
        mode = mode or rng.choices(["single", "soft35", "soft27"], weights=[70, 24, 6])[0]
        return wrap_pieces(text, mode)

    def add_entry(self, e: Entry) -> Entry:
        e.val = e.val or e.book
        for t in e.txs:
            t.entry = e
        e.order = self.rng.random()
        self.entries.append(e)
        return e

    def manual_debit(
        self,
        company,
        day,
        amount,
        v: Vendor | None,
        ustrd=None,
        strd=None,
        kind="sct_out",
        name=None,
        iban="master",
        e2e=None,
        label=None,
        txamt=True,
        purp=None,
        chrgs=(),
        instd=None,
        entry_amount=None,
    ) -> Tx:
        rng = self.rng
        if iban == "master":
            assert v is not None  # the vendor master's account needs a vendor
            iban_v, bic = self.acct_at(v, day)
        elif iban in (None, "none"):
            iban_v, bic = None, None
        else:
            iban_v, bic = iban
        if e2e is None:
            e2e = "NOTPROVIDED" if rng.random() < 0.7 else f"EB{day:%y%m%d}{rng.randint(100000, 999999)}"
        tx = Tx(
            amount=amount if txamt else None,
            e2e=e2e,
            name=name or (self.name_for(v, "manual") if v else None),
            iban=iban_v,
            bic=bic if rng.random() < 0.6 else None,
            ustrd=ustrd or [],
            strd=strd or [],
            purp=purp,
            label=label,
            instd=instd,
        )
        e = Entry(
            company,
            day,
            entry_amount if entry_amount is not None else amount,
            "DBIT",
            kind,
            [tx],
            chrgs=list(chrgs),
            label=label,
        )
        if rng.random() < 0.08:
            e.val = prev_bd(day - days(1))
        tx.label = None
        self.add_entry(e)
        return tx

    def run_tx(
        self,
        docs: list[Doc],
        company: str,
        run_day: dt.date,
        amount: Decimal,
        label: dict,
        remittance: str,
        currency: str = "EUR",
    ) -> Tx:
        """An instruction of one of our own payment runs; the bank echoes its EndToEndId."""
        key = (company, run_day)
        run = self.runs.setdefault(key, {"txs": [], "seq": 0})
        run["seq"] += 1
        e2e = f"PR{company}{run_day:%y%m%d}{run['seq']:04d}"
        v = docs[0].vendor
        exec_day = add_bd(run_day, 1)
        iban, bic = self.acct_at(v, exec_day)
        tx = Tx(
            amount=amount,
            e2e=e2e,
            name=sepa_text(v.name)[:70],
            iban=iban,
            bic=bic,
            ustrd=[sepa_text(remittance)[:140]],
            label=label,
            pmtinf=f"PR-{company}-{run_day:%Y%m%d}",
        )
        tx.docs, tx.currency, tx.vendor, tx.exec_day = docs, currency, v, exec_day
        run["txs"].append(tx)
        return tx

    def run_day_for(self, doc: Doc, target: dt.date) -> dt.date | None:
        """Payment runs go out on Tuesdays and Thursdays; execution the next business day."""
        assert doc.post_date is not None  # payments are planned for posted documents
        lo = doc.post_date + days(1)
        d = target - days(1)
        while d >= lo:
            if d.weekday() in (1, 3) and is_bd(d):
                return d
            d -= days(1)
        d = lo
        while d <= END - days(2):
            if d.weekday() in (1, 3) and is_bd(d):
                return d
            d += days(1)
        return None

    # ---------------------------------------------------------------- labels
    @staticmethod
    def lab_match(cls, docs, settles, **extra) -> dict:
        return {"class": cls, "expect": "match", "docs": list(docs), "settles": settles, **extra}

    # ---------------------------------------------------------------- classes
    def close(self, doc: Doc, day: dt.date) -> None:
        doc.closed_iv = getattr(doc, "closed_iv", [])
        doc.closed_iv.append([day, None])
        doc.settled_on = day

    def pay(self, doc: Doc, unit, day: dt.date, amount: Decimal, full: bool = True) -> None:
        doc.paid_by.append((day, amount, unit))
        if full:
            self.close(doc, day)

    def simple_payment(
        self,
        doc: Doc,
        cls: str,
        day: dt.date,
        *,
        shown=None,
        amount=None,
        settles="in_full",
        discount_pct=None,
        iban="master",
        name=None,
        text=None,
        kind="sct_out",
        mode=None,
    ) -> Tx:
        lang = self.lang(doc.company, doc.vendor)
        if text is None:
            text = self.doc_text(doc, shown, lang)
            if discount_pct is not None and self.rng.random() < 0.55:
                text += " " + self.text_for(lang, "disc", p=int(discount_pct * 100))
        amt = amount if amount is not None else doc.gross
        tx = self.manual_debit(
            doc.company,
            day,
            amt,
            doc.vendor,
            ustrd=self.render(text, mode=mode) if text else [],
            iban=iban,
            name=name,
            kind=kind,
            label=self.lab_match(cls, [doc], settles),
        )
        self.pay(doc, tx.entry, day, amt, full=settles != "short" and settles != "partly")
        return tx

    def maybe_discount(self, doc: Doc, day: dt.date | None, prob: float):
        """Payers take the early-payment discount when they pay inside the discount period."""
        ddays, pct = self.discount_terms(doc)
        if ddays and self.rng.random() < prob:
            dday = self.discount_pay(doc)
            if dday:
                return dday, pct
        return day, None

    def plan_returns(self) -> None:
        rng, n, n_repay = self.rng, scaled(80, self.f), scaled(46, self.f)
        docs = self.take(
            n,
            lambda d: (
                d.currency == "EUR"
                and d.vendor.profile == "transfer"
                and d.vendor.alias is None
                and d.vendor.alias_of is None
                and d.due <= END - days(35)
                and not any(d.vendor.vid == v for v in self.blocked)
            ),
            "returned",
        )
        repaid = 0
        for doc in docs:
            v = doc.vendor
            if v.vid in self.blocked:
                doc.pay_class = None
                continue
            d0 = self.due_date_pay(doc)
            if d0 is None or d0 > END - days(25):
                doc.pay_class = None
                continue
            unit: Tx | Entry | None  # our payment run's instruction, or the entry of a manual payment
            if rng.random() < 0.45 and (rd := self.run_day_for(doc, d0)) is not None:
                unit = self.run_tx(
                    [doc], doc.company, rd, doc.gross, self.lab_match("e2e_payment_run", [doc], "in_full"), doc.number
                )
                d0 = unit.exec_day
                orig = unit
            else:
                orig = self.simple_payment(doc, "exact_number", d0)
                unit = orig.entry
                doc.paid_by.pop()
                doc.closed_iv.pop()
            self.pay(doc, unit, d0, doc.gross)
            ret_day = add_bd(d0, rng.randint(2, 5))
            reason = rng.choices(["AC04", "AC01", "AC06", "MS03", "AG01", "BE04"], weights=[35, 20, 10, 15, 10, 10])[0]
            info = {
                "AC04": "KONTO ERLOSCHEN",
                "AC01": "KONTONUMMER FEHLERHAFT",
                "AC06": "KONTO GESPERRT",
                "MS03": "GRUND NICHT ANGEGEBEN",
                "AG01": "TRANSAKTION NICHT ZULAESSIG",
                "BE04": "ADRESSE DES EMPFAENGERS FEHLT",
            }[reason]
            fee = q2(D(rng.choice(["2.50", "5.00", "7.50"]))) if rng.random() < 0.2 else ZERO
            ret_amt = doc.gross - fee
            rtx = Tx(
                amount=ret_amt,
                e2e=orig.e2e,
                name=orig.name,
                iban=orig.iban,
                bic=orig.bic,
                ustrd=[("RETOURE " + (orig.ustrd[0] if orig.ustrd else ""))[:140]],
                rtr=(reason, info),
            )
            if fee:
                rtx.instd = (doc.gross, "EUR", None)
            e = Entry(
                doc.company,
                ret_day,
                ret_amt,
                "CRDT",
                "return_in",
                [rtx],
                chrgs=[(fee, "CRED")] if fee else [],
                label={"class": "returned_payment", "expect": "return", "returns": orig, "reopens": [doc]},
            )
            self.add_entry(e)
            doc.closed_iv[-1][1] = ret_day
            doc.settled_on = None
            doc.reopened = True
            change = ret_day
            if reason in ("AC04", "AC01"):
                change = ret_day + days(rng.randint(1, 3))
                new = new_account(rng, v.country)
                self.acct_hist[v.vid].append((change, [new]))
                self.vendor_updates.append((at(change, rng.randint(8, 16), rng.randint(0, 59)), v, [new]))
            self.blocked.setdefault(v.vid, []).append((d0 - days(1), change))
            if repaid < n_repay:
                rday = add_bd(change, rng.randint(1, 6))
                if rday <= END:
                    repaid += 1
                    if rng.random() < 0.4 and (rd := self.run_day_for(doc, rday + days(3))) is not None and rd > change:
                        tx = self.run_tx(
                            [doc],
                            doc.company,
                            rd,
                            doc.gross,
                            self.lab_match("repaid_after_return", [doc], "in_full"),
                            doc.number,
                        )
                        self.pay(doc, tx, tx.exec_day, doc.gross)
                    else:
                        tx = self.simple_payment(doc, "repaid_after_return", rday)

    def plan_held(self) -> None:
        rng = self.rng
        for doc in self.take(
            scaled(45, self.f),
            lambda d: d.currency == "EUR" and d.vendor.profile == "transfer" and d.capture.date() <= END - days(15),
            "held",
        ):
            assert doc.capture is not None  # plan_capture has run on every document
            pay = next_bd(doc.capture.date() + days(rng.randint(0, 2)))
            post_day = add_bd(pay, rng.randint(1, 5))
            doc.post = at(post_day, rng.randint(8, 17), rng.randint(0, 59))
            if doc.approve is None or doc.approve >= doc.post:
                doc.approve = max(
                    doc.capture + dt.timedelta(hours=1), doc.post - dt.timedelta(hours=rng.randint(2, 30))
                )
            doc.held = True
            shown = doc.number if rng.random() < 0.8 else (mut_punct(doc.number, rng) or doc.number)
            self.simple_payment(
                doc, "paid_before_posting", pay, shown=shown, kind=rng.choice(["sct_out", "urgent_out"])
            )

    def plan_fx(self) -> None:
        rng = self.rng
        for doc in self.take(10**6, lambda d: d.currency != "EUR", "fx"):
            day = self.due_date_pay(doc)
            if day is None:
                doc.pay_class = None
                continue
            rate = fx_rate(doc.currency, day)
            eur = q2(doc.gross / rate)
            fee = q2(D(rng.choice(["12.50", "15.00", "20.00", "25.00", "35.00"]))) if rng.random() < 0.35 else ZERO
            text = self.doc_text(doc, lang="en")
            tx = self.manual_debit(
                doc.company,
                day,
                eur,
                doc.vendor,
                ustrd=self.render(text),
                kind="xb_out",
                instd=(doc.gross, doc.currency, rate),
                chrgs=[(fee, "DEBT")] if fee else [],
                entry_amount=eur + fee,
                label=self.lab_match("foreign_currency", [doc], "in_full"),
            )
            self.pay(doc, tx.entry, day, doc.gross)

    def plan_discount(self) -> None:
        n = scaled(80, self.f)

        def half_case(d):
            _dd, pct = self.discount_terms(d)
            return pct is not None and (d.gross * pct).quantize(CENT, ROUND_HALF_UP) != (d.gross * pct).quantize(
                CENT, ROUND_HALF_EVEN
            )

        def base(d):
            return (
                d.currency == "EUR"
                and d.vendor.profile == "transfer"
                and self.discount_terms(d)[0]
                and self.discount_pay(d) is not None
            )

        docs = self.take(n // 2, lambda d: base(d) and half_case(d), "discount")
        docs += self.take(n - len(docs), base, "discount")
        for doc in docs:
            day = self.discount_pay(doc)
            assert day is not None  # take() picked documents with a discount day (None would fail in acct_at)
            _dd, pct = self.discount_terms(doc)
            amt = doc.gross - self.discount_amount(doc, pct)
            self.simple_payment(
                doc, "early_payment_discount", day, amount=amt, settles="with_discount", discount_pct=pct
            )

    def plan_charges(self) -> None:
        rng = self.rng
        for cls in ("bank_charges_chrgs", "bank_charges_over"):
            for doc in self.take(
                scaled(44, self.f),
                lambda d: d.currency == "EUR" and d.vendor.profile == "transfer" and d.vendor.alias_of is None,
                cls,
            ):
                day = self.due_date_pay(doc)
                if day is None:
                    doc.pay_class = None
                    continue
                fee = q2(D(rng.choice(["5.00", "7.50", "10.00", "12.50", "15.00", "25.00"])))
                text = self.doc_text(doc)
                if cls == "bank_charges_chrgs" and rng.random() < 0.3:
                    tx = self.manual_debit(
                        doc.company,
                        day,
                        doc.gross - fee,
                        doc.vendor,
                        ustrd=self.render(text),
                        kind="urgent_out",
                        entry_amount=doc.gross,
                        instd=(doc.gross, "EUR", None),
                        label=self.lab_match(cls, [doc], "in_full"),
                    )
                    tx.chrgs = [(fee, "SHAR")]
                    self.pay(doc, tx.entry, day, doc.gross)
                    continue
                if cls == "bank_charges_chrgs":
                    tx = self.manual_debit(
                        doc.company,
                        day,
                        doc.gross,
                        doc.vendor,
                        ustrd=self.render(text),
                        kind="urgent_out",
                        chrgs=[(fee, "DEBT")],
                        entry_amount=doc.gross + fee,
                        instd=(doc.gross, "EUR", None),
                        label=self.lab_match(cls, [doc], "in_full"),
                    )
                else:
                    tx = self.manual_debit(
                        doc.company,
                        day,
                        doc.gross + fee,
                        doc.vendor,
                        ustrd=self.render(text),
                        kind="urgent_out",
                        txamt=False,
                        label=self.lab_match(cls, [doc], "over"),
                    )
                self.pay(doc, tx.entry, day, doc.gross + fee)

    def cn_candidates(self):
        return [
            d
            for d in self.docs
            if d.kind == "credit_note" and "cn" in d.tags and d.post is not None and d.pay_class is None
        ]

    def plan_cn_netting(self) -> None:
        rng, made = self.rng, 0
        cns = self.cn_candidates()
        rng.shuffle(cns)
        for cn in cns:
            if made >= scaled(50, self.f):
                break
            a = cn.follow
            if not self.free(a) or a.gross <= cn.gross:
                continue
            day = self.due_date_pay(a, lo=max(a.post_date, cn.post_date))
            if day is None:
                continue
            a.pay_class = cn.pay_class = "cn_netting"
            lang = self.lang(a.company, a.vendor)
            text = self.text_for(lang, "cn", n=a.number, cn=cn.number)
            amt = a.gross - cn.gross
            tx = self.manual_debit(
                a.company,
                day,
                amt,
                a.vendor,
                ustrd=self.render(text),
                label=self.lab_match("net_of_credit_note", [a, cn], "net_of_credit_note"),
            )
            self.pay(a, tx.entry, day, amt)
            self.pay(cn, tx.entry, day, ZERO)
            made += 1

    def plan_cn_refund(self) -> None:
        rng, made = self.rng, 0
        cns = self.cn_candidates()
        rng.shuffle(cns)
        for cn in cns:
            if made >= scaled(40, self.f):
                break
            day = next_bd(cn.post_date + days(rng.randint(5, 25)))
            if day > END:
                continue
            cn.pay_class = "cn_refund"
            v = cn.vendor
            lang = self.lang(cn.company, v)
            text = self.text_for(lang, "refund", cn=cn.number, c=v.cust_no)
            iban, bic = self.acct_at(v, day)
            tx = Tx(
                amount=cn.gross,
                e2e=rng.choice(["NOTPROVIDED", f"{v.vid[1:]}-{cn.seq}-R", f"RF{cn.seq}{day:%m%d}"]),
                name=bank_name(v.name, rng),
                iban=iban,
                bic=bic,
                ustrd=self.render(text),
                party_role="Dbtr",
            )
            e = self.add_entry(
                Entry(
                    cn.company,
                    day,
                    cn.gross,
                    "CRDT",
                    "sct_in",
                    [tx],
                    label=self.lab_match("credit_note_refund", [cn], "in_full"),
                )
            )
            self.pay(cn, e, day, cn.gross)
            made += 1

    def companions(self, seed: Doc, k: int, window: int = 20, pred=lambda d: True) -> list[Doc]:
        out = [
            d
            for d in self.docs
            if d is not seed
            and self.free(d)
            and d.vendor is seed.vendor
            and d.company == seed.company
            and d.currency == seed.currency
            and abs((d.due - seed.due).days) <= window
            and pred(d)
        ]
        self.rng.shuffle(out)
        return out[:k]

    def group_day(self, group: list[Doc]) -> dt.date | None:
        day = self.due_date_pay(max(group, key=due_of), lo=max(post_of(d).date() for d in group))
        return day

    def strd_block(self, doc: Doc, rmtd: Decimal | None, disc=None, cn=None, tp="CINV") -> dict:
        return {"tp": tp, "nb": doc.number, "dt": doc.inv_date, "due": doc.gross, "disc": disc, "cn": cn, "rmtd": rmtd}

    def plan_structured(self) -> None:
        rng = self.rng
        seeds = self.take(
            scaled(50, self.f), lambda d: d.currency == "EUR" and d.vendor.profile == "transfer", "structured"
        )
        for seed in seeds:
            group = [seed] + self.companions(seed, rng.choice([0, 0, 1, 1, 2, 3]))
            day = self.group_day(group)
            if day is None:
                seed.pay_class = None
                continue
            for d in group:
                d.pay_class = "structured"
            blocks = [self.strd_block(d, d.gross) for d in group]
            amt = sum((d.gross for d in group), ZERO)
            tx = self.manual_debit(
                seed.company,
                day,
                amt,
                seed.vendor,
                strd=blocks,
                label=self.lab_match("structured_remittance", group, "in_full"),
            )
            for d in group:
                self.pay(d, tx.entry, day, d.gross)
        n_adj, made = scaled(45, self.f), 0
        # with discount
        for seed in self.take(
            n_adj // 2,
            lambda d: (
                d.currency == "EUR"
                and d.vendor.profile == "transfer"
                and self.discount_terms(d)[0]
                and self.discount_pay(d) is not None
            ),
            "structured",
        ):
            day = self.discount_pay(seed)
            assert day is not None  # take() picked documents with a discount day (None would fail in acct_at)
            ddays, pct = self.discount_terms(seed)
            group = [seed] + self.companions(
                seed,
                rng.choice([0, 1, 2]),
                10,
                lambda d, day=day, ddays=ddays: d.post_date < day and d.inv_date + days(ddays) >= day,
            )
            for d in group:
                d.pay_class = "structured"
            blocks, amt = [], ZERO
            for d in group:
                disc = self.discount_amount(d, pct)
                blocks.append(self.strd_block(d, d.gross - disc, disc=disc))
                amt += d.gross - disc
            tx = self.manual_debit(
                seed.company,
                day,
                amt,
                seed.vendor,
                strd=blocks,
                label=self.lab_match("structured_with_adjustment", group, "with_discount"),
            )
            for d in group:
                self.pay(d, tx.entry, day, d.gross)
            made += 1
        # with a credit note
        cns = self.cn_candidates()
        rng.shuffle(cns)
        for cn in cns:
            if made >= n_adj:
                break
            inv = [
                d
                for d in self.docs
                if self.free(d)
                and d.vendor is cn.vendor
                and d.company == cn.company
                and d.gross > cn.gross
                and d.currency == "EUR"
            ]
            if not inv:
                continue
            a = rng.choice(inv)
            day = self.due_date_pay(a, lo=max(a.post_date, cn.post_date))
            if day is None:
                continue
            a.pay_class = cn.pay_class = "structured"
            blocks = [
                self.strd_block(a, a.gross - cn.gross, cn=cn.gross),
                {
                    "tp": "CREN",
                    "nb": cn.number,
                    "dt": cn.inv_date,
                    "due": None,
                    "disc": None,
                    "cn": cn.gross,
                    "rmtd": None,
                },
            ]
            tx = self.manual_debit(
                a.company,
                day,
                a.gross - cn.gross,
                a.vendor,
                strd=blocks,
                label=self.lab_match("structured_with_adjustment", [a, cn], "net_of_credit_note"),
            )
            self.pay(a, tx.entry, day, a.gross - cn.gross)
            self.pay(cn, tx.entry, day, ZERO)
            made += 1

    def plan_rf(self) -> None:
        rng = self.rng
        for cls, n in (("creditor_reference", 52), ("creditor_reference_text", 48)):
            for doc in self.take(scaled(n, self.f), lambda d: d.rf is not None and d.currency == "EUR", cls):
                day = self.due_date_pay(doc)
                if day is None:
                    doc.pay_class = None
                    continue
                if cls == "creditor_reference":
                    tx = self.manual_debit(
                        doc.company,
                        day,
                        doc.gross,
                        doc.vendor,
                        strd=[{"rf": doc.rf}],
                        label=self.lab_match(cls, [doc], "in_full"),
                    )
                else:
                    assert doc.rf is not None  # take() picked documents with a creditor reference
                    grouped = " ".join(doc.rf[i : i + 4] for i in range(0, len(doc.rf), 4))
                    pre = rng.choice(["", "", "Betalingskenmerk ", "REF ", "Viite ", "Referentie: ", "Zahlung "])
                    tx = self.manual_debit(
                        doc.company,
                        day,
                        doc.gross,
                        doc.vendor,
                        ustrd=[pre + grouped],
                        label=self.lab_match(cls, [doc], "in_full"),
                    )
                self.pay(doc, tx.entry, day, doc.gross)

    def short_name(self, v: Vendor, must: str | None = None) -> str:
        for _ in range(20):
            nm = bank_name(v.name, self.rng, max_len=self.rng.choice([35, 27, 70]), drop_legal=0.4, upper=0.9)
            if must is None or must in nm.upper():
                return nm
        return sepa_text(v.name).upper()[:70]

    def plan_name_only(self) -> None:
        rng = self.rng
        docs = self.take(
            scaled(70, self.f),
            lambda d: (
                d.currency == "EUR"
                and d.vendor.profile == "transfer"
                and d.vendor.family is None
                and d.vendor.alias is None
                and d.vendor.alias_of is None
            ),
            "name_only",
        )
        for i, doc in enumerate(docs):
            day = self.due_date_pay(doc)
            if day is None:
                doc.pay_class = None
                continue
            iban = None if rng.random() < 0.6 else new_account(rng, doc.vendor.country)
            with_ref = i % 2 == 0
            text = (
                self.doc_text(doc, shown=doc.number if rng.random() < 0.7 else mut_punct(doc.number, rng))
                if with_ref
                else self.generic_text(doc.company)
            )
            tx = self.simple_payment(doc, "name_only", day, text=text, iban=iban, name=self.short_name(doc.vendor))
            if not with_ref:
                self.amount_only.append((tx.entry, ("vendor", doc.vendor), [doc]))

    def plan_splits(self) -> None:
        rng = self.rng
        for doc in self.take(
            scaled(40, self.f),
            lambda d: d.currency == "EUR" and d.gross >= 1500 and d.vendor.profile == "transfer",
            "split",
        ):
            day = self.due_date_pay(doc)
            if day is None or day > END - days(6):
                doc.pay_class = None
                continue
            m = 2 if rng.random() < 0.7 else 3
            parts, rest = [], doc.gross
            for k in range(m - 1):
                p = q2(D(round(float(doc.gross) * rng.uniform(0.25, 0.6) / (1 if k == 0 else 2))))
                parts.append(p)
                rest -= p
            parts.append(rest)
            lang = self.lang(doc.company, doc.vendor)
            same_day = rng.random() < 0.4
            bank_split = rng.random() < 0.5
            text0 = self.doc_text(doc, lang=lang)
            e2e = "NOTPROVIDED" if rng.random() < 0.5 else f"EB{day:%y%m%d}{rng.randint(100000, 999999)}"
            for k, p in enumerate(parts):
                dk = day if same_day else add_bd(day, k)
                if bank_split:
                    tx = self.manual_debit(
                        doc.company,
                        dk,
                        p,
                        doc.vendor,
                        ustrd=self.render(text0, case="keep", mode="single"),
                        e2e=e2e,
                        label=self.lab_match("split_payment", [doc], "partly"),
                    )
                else:
                    text = self.text_for(lang, "part", n=doc.number, k=k + 1, m=m)
                    tx = self.manual_debit(
                        doc.company,
                        dk,
                        p,
                        doc.vendor,
                        ustrd=self.render(text),
                        label=self.lab_match("split_payment", [doc], "partly"),
                    )
                self.pay(doc, tx.entry, dk, p, full=(k == m - 1))

    def plan_lumps(self) -> None:
        rng, made = self.rng, 0
        seeds = self.take(
            scaled(45, self.f) * 3,
            lambda d: d.currency == "EUR" and d.vendor.profile == "transfer" and d.vendor.family is None,
            "lump",
        )
        for seed in seeds:
            if made >= scaled(45, self.f):
                seed.pay_class = None
                continue
            no_details = rng.random() < 0.45
            group = [seed] + self.companions(seed, rng.choice([1, 2]) if no_details else rng.choice([1, 2, 3, 4]), 15)
            if len(group) < 2:
                seed.pay_class = None
                continue
            day = self.group_day(group)
            if day is None:
                seed.pay_class = None
                continue
            for d in group:
                d.pay_class = "lump"
            amt = sum((d.gross for d in group), ZERO)
            style = self.comps[seed.company].bank_style
            e = Entry(
                seed.company,
                day,
                amt,
                "DBIT",
                "sct_batch",
                [],
                btch={"nb": len(group), "ttl": amt, "pmtinf": f"EB{day:%y%m%d}{rng.randint(1000, 9999)}"},
                label=self.lab_match("lump_batch", group, "in_full"),
            )
            e.addtl = {
                "DK": f"SAMMEL-UEBERWEISUNG {len(group)} POSTEN",
                "NL": f"VERZAMELBETALING {len(group)} POSTEN",
                "FR": f"REMISE DE {len(group)} VIREMENTS SEPA",
            }[style]
            if not no_details:
                iban, bic = self.acct_at(seed.vendor, day)
                e.txs = [Tx(amount=None, name=self.name_for(seed.vendor, "manual"), iban=iban, bic=bic)]
            self.add_entry(e)
            for d in group:
                self.pay(d, e, day, d.gross)
            self.amount_only.append(
                (e, ("company", seed.company, len(group)) if no_details else ("vendor", seed.vendor), group)
            )
            made += 1

    def plan_multi(self) -> None:
        rng = self.rng
        made = 0
        for seed in self.take(
            scaled(60, self.f) * 2, lambda d: d.currency == "EUR" and d.vendor.profile == "transfer", "multi"
        ):
            if made >= scaled(60, self.f):
                seed.pay_class = None
                continue
            group = [seed] + self.companions(seed, rng.choice([1, 1, 1, 2, 3]), 20)
            if len(group) < 2:
                seed.pay_class = None
                continue
            day = self.group_day(group)
            if day is None:
                seed.pay_class = None
                continue
            for d in group:
                d.pay_class = "multi"
            group.sort(key=lambda d: d.number)
            lang = self.lang(seed.company, seed.vendor)
            nums = [d.number for d in group]
            key = "two" if len(nums) == 2 and rng.random() < 0.35 else "many"
            text = self.text_for(lang, key, n1=nums[0], n2=nums[1], ns=join_numbers(nums, rng), c=seed.vendor.cust_no)
            amt = sum((d.gross for d in group), ZERO)
            tx = self.manual_debit(
                seed.company,
                day,
                amt,
                seed.vendor,
                ustrd=self.render(text),
                label=self.lab_match("multi_invoice_text", group, "in_full"),
            )
            for d in group:
                self.pay(d, tx.entry, day, d.gross)
            made += 1

    def variant_ok(self, doc: Doc, shown: str, same_norm_ok: bool) -> bool:
        n = norm_no(shown)
        if not n or shown == doc.number:
            return False
        if n == norm_no(doc.number):
            return (
                same_norm_ok
                and sum(
                    1
                    for d in self.docs
                    if d.company == doc.company and d.vendor is doc.vendor and norm_no(d.number) == n
                )
                == 1
            )
        pool = self.all_norms[doc.company]
        return n not in pool and n.lstrip("0") not in pool

    def plan_number_variants(self) -> None:
        rng = self.rng

        def only_drop_prefix(num, r):
            return mut_prefix(num, r) if re.match(r"^[A-Za-z]", num) else None

        def only_strip_zeros(num, r):
            groups = [m for m in re.finditer(r"\d+", num) if m.group().startswith("0") and len(m.group()) > 1]
            if not groups:
                return None
            m = r.choice(groups)
            return num[: m.start()] + (m.group().lstrip("0") or "0") + num[m.end() :]

        plan = [
            ("number_typo", 50, lambda n, r: mut_digit(n, r) if r.random() < 0.5 else mut_swap(n, r), False),
            ("number_ocr", 45, mut_ocr, False),
            ("prefix_dropped", 45, only_drop_prefix, False),
            ("leading_zeros_dropped", 45, only_strip_zeros, False),
            ("number_punctuation", 45, mut_punct, True),
        ]
        for cls, n, fn, same_norm in plan:
            made = 0
            cands = [d for d in self.docs if self.free(d) and d.currency == "EUR" and d.vendor.profile == "transfer"]
            rng.shuffle(cands)
            for doc in cands:
                if made >= scaled(n, self.f):
                    break
                if not self.free(doc):
                    continue
                shown = None
                for _ in range(6):
                    s = fn(doc.number, rng)
                    if s and self.variant_ok(doc, s, same_norm):
                        shown = s
                        break
                if shown is None:
                    continue
                day = self.due_date_pay(doc)
                if day is None:
                    continue
                day, pct = self.maybe_discount(doc, day, 0.15)
                doc.pay_class = cls
                if pct is not None:
                    self.simple_payment(
                        doc,
                        cls,
                        day,
                        shown=shown,
                        amount=doc.gross - self.discount_amount(doc, pct),
                        settles="with_discount",
                        discount_pct=pct,
                    )
                else:
                    self.simple_payment(doc, cls, day, shown=shown)
                made += 1

    def split_text(self, doc: Doc, width: int) -> list[str] | None:
        """Remittance whose invoice number is cut by the bank's fixed-width wrap (35, or 27 as in legacy :86:)."""
        rng = self.rng
        num = sepa_text(doc.number)
        if len(norm_no(num)) < 5:
            return None
        lang = self.lang(doc.company, doc.vendor)
        label = {
            "de": ["RE-NR. ", "Rechnung ", "RG ", "Rechnungsnr. "],
            "en": ["INV ", "Invoice "],
            "nl": ["Factuur ", "factuurnr. "],
            "fr": ["FACT ", "FACTURE "],
        }[lang]
        fillers = [
            f"KD-NR {doc.vendor.cust_no} ",
            f"KUNDE {doc.vendor.cust_no} ",
            "ZAHLUNG ",
            "UNSERE ZAHLUNG ",
            f"{sepa_text(split_legal(doc.vendor.name)[0]).upper()[:18]} ",
            "SVWZ+",
            "EREF+NOTPROVIDED ",
            f"{fmt_date(doc.inv_date, lang)} ",
            f"BESTELLUNG 45{rng.randint(100000, 999999)} ",
            "LIEFERUNG ",
            f"{doc.inv_date:%m/%Y} ",
            "PAYMENT ",
            "BETALING ",
            "REGLEMENT ",
        ]
        for _ in range(400):
            cut = rng.randint(2, len(num) - 2)
            p = width - cut
            lab = rng.choice(label)
            pre = ""
            toks = rng.sample(fillers, rng.randint(0, 4))
            for t in toks:
                if len(pre) + len(t) + len(lab) <= p:
                    pre += t
            pre += lab
            if len(pre) != p:
                continue
            if num[cut - 1] in " -/" or num[cut] in " -/":
                continue
            text = (
                pre
                + num
                + rng.choice(["", f" VOM {fmt_date(doc.inv_date, lang)}", " DANKE", f" KD {doc.vendor.cust_no}"])
            )
            pieces = wrap_fixed(text[:140], width)
            if any(num in x for x in pieces):
                continue
            return pieces
        return None

    def plan_number_split(self) -> None:
        rng = self.rng
        for cls, n, width in (("number_split_35", 45, 35), ("number_split_27", 40, 27)):
            made = 0
            cands = [d for d in self.docs if self.free(d) and d.currency == "EUR" and d.vendor.profile == "transfer"]
            rng.shuffle(cands)
            for doc in cands:
                if made >= scaled(n, self.f):
                    break
                pieces = self.split_text(doc, width)
                day = self.due_date_pay(doc)
                if pieces is None or day is None:
                    continue
                doc.pay_class = cls
                tx = self.manual_debit(
                    doc.company, day, doc.gross, doc.vendor, ustrd=pieces, label=self.lab_match(cls, [doc], "in_full")
                )
                self.pay(doc, tx.entry, day, doc.gross)
                made += 1

    def cheque(self, doc: Doc, cls: str = "cheque") -> bool:
        rng = self.rng
        issue = self.due_date_pay(doc)
        if issue is None:
            return False
        day = add_bd(issue, rng.randint(3, 12))
        if day > END:
            return False
        self.cheque_no += rng.randint(1, 3)
        tx = Tx(amount=doc.gross, chq=str(self.cheque_no))
        e = self.add_entry(
            Entry(
                doc.company,
                day,
                doc.gross,
                "DBIT",
                "cheque",
                [tx],
                addtl=f"CHEQUE N {self.cheque_no}",
                label=self.lab_match(cls, [doc], "in_full"),
            )
        )
        self.pay(doc, e, day, doc.gross)
        self.amount_only.append((e, ("company", doc.company, 1), [doc]))
        return True

    def plan_cheques(self) -> None:
        for doc in self.take(
            scaled(52, self.f),
            lambda d: (
                d.company == "3000"
                and d.vendor.country == "FR"
                and d.vendor.profile in ("cheque", "transfer")
                and d.vendor.family is None
                and d.gross < 6000
                and d.currency == "EUR"
            ),
            "cheque",
        ):
            if not self.cheque(doc):
                doc.pay_class = None

    def plan_structures(self) -> None:
        rng = self.rng
        day: dt.date | None
        # genuine ties: two open invoices, same supplier, same amount, payments without any reference
        for a, t in self.st["tie"]:
            if a.post is None or t.post is None:
                continue
            d1 = self.due_date_pay(a, lo=max(a.post_date, t.post_date))
            if d1 is None:
                continue
            d2 = add_bd(d1, rng.randint(0, 8))
            if d2 > END:
                continue
            a.pay_class = t.pay_class = "tie"
            name = self.name_for(a.vendor, "manual")
            units = []
            for day in (d1, d2):
                txt = self.generic_text(a.company)
                tx = self.manual_debit(
                    a.company,
                    day,
                    a.gross,
                    a.vendor,
                    ustrd=self.render(txt) if txt else [],
                    name=name,
                    label={"class": "equal_amount_tie", "expect": "review", "candidates": [a, t]},
                )
                units.append(tx.entry)
            self.pay(a, units[0], d2, a.gross)
            self.pay(t, units[1], d2, t.gross)
        # the payer's reference wins over another combination that adds up to the same amount
        for a, b, c in self.st["combo"]:
            if any(x.post is None for x in (a, b, c)):
                continue
            day = self.due_date_pay(a, lo=max(x.post_date for x in (a, b, c)))
            if day is None:
                continue
            a.pay_class = b.pay_class = c.pay_class = "combo"
            self.simple_payment(a, "reference_over_amount_combination", day)
            for x in (b, c):
                if rng.random() < 0.5:
                    dx = add_bd(day, rng.randint(5, 25))
                    if dx <= END:
                        self.simple_payment(x, "exact_number", dx)
        # a named invoice paid a few euros short; the short amount equals another open invoice
        for a, b, delta in self.st["short"]:
            if a.post is None or b.post is None:
                continue
            day = self.due_date_pay(a, lo=max(a.post_date, b.post_date))
            if day is None:
                continue
            a.pay_class = b.pay_class = "short"
            lang = self.lang(a.company, a.vendor)
            text = self.doc_text(a, lang=lang, noise=False)
            if rng.random() < 0.4:
                text += " " + rng.choice(
                    {
                        "de": ["abzgl. Porto", "abzgl. Mindermenge", "ABZGL. FRACHT"],
                        "en": ["less freight", "less short delivery"],
                        "nl": ["minus vracht"],
                        "fr": ["MOINS FRAIS DE PORT"],
                    }[lang]
                )
            self.simple_payment(a, "short_payment_named", day, text=text, amount=a.gross - delta, settles="short")
            if rng.random() < 0.5:
                dx = add_bd(day, rng.randint(5, 25))
                if dx <= END:
                    self.simple_payment(b, "exact_number", dx)
        # suppliers whose names share the first word
        for x, y in self.st["similar"]:
            if x.post is None or y.post is None:
                continue
            day = self.due_date_pay(x, lo=max(x.post_date, y.post_date))
            if day is None:
                continue
            x.pay_class = y.pay_class = "similar"
            word = sepa_text(split_legal(x.vendor.name)[0].split(" ", 1)[1]).upper().split()[0]
            name = self.short_name(x.vendor, must=word)
            iban = None if rng.random() < 0.7 else new_account(rng, x.vendor.country)
            txt = self.generic_text(x.company)
            tx = self.simple_payment(x, "similar_vendor_name", day, text=txt, iban=iban, name=name)
            self.amount_only.append((tx.entry, ("vendor", x.vendor), [x]))
            if rng.random() < 0.6:
                dy = add_bd(day, rng.randint(3, 20))
                if dy <= END:
                    self.simple_payment(y, "exact_number", dy)
        # rent paid by standing order: the text names the month, never the invoice
        for d in self.st["recurring"]:
            if "rent" not in d.tags or d.post is None:
                continue
            day = next_bd(d.due)
            if day > END or d.post_date >= day:
                continue
            d.pay_class = "rent"
            lang = {"1000": "de", "2000": "nl", "3000": "fr"}[d.company]
            text = self.text_for(
                lang, "period", mm=f"{d.period.month:02d}", yyyy=d.period.year, obj=rng.choice(OBJECTS[d.company])
            )
            tx = self.manual_debit(
                d.company,
                day,
                d.gross,
                d.vendor,
                ustrd=self.render(text, case="upper"),
                kind="stdo",
                e2e="NOTPROVIDED",
                label=self.lab_match("standing_order_rent", [d], "in_full"),
            )
            self.pay(d, tx.entry, day, d.gross)
        # monthly subscriptions: collected by direct debit, or paid like any invoice
        for d in self.st["recurring"]:
            if "subscr" not in d.tags or d.post is None:
                continue
            if d.vendor.profile == "subscription":
                self.direct_debit(d)
            else:
                d.tags.add("regular")
                d.tags.discard("subscr")
        # instalments
        for grp in self.st["instalments"]:
            for d in grp:
                if d.post is None:
                    continue
                if d.vendor.profile == "instalment_dd":
                    self.direct_debit(d)
                else:
                    d.tags = {"regular", "instalment_ref"}

    def direct_debit(self, d: Doc) -> bool:
        rng = self.rng
        v = d.vendor
        assert d.due is not None and d.post_date is not None  # payments are planned for posted documents
        day = next_bd(d.due)
        if day <= d.post_date:
            day = next_bd(d.post_date + days(1))
        if day > END:
            return False
        d.pay_class = "dd"
        lang = self.lang(d.company, v)
        text = rng.choice(
            {
                "de": [
                    f"Rechnung {d.number} vom {fmt_date(d.inv_date, lang)} Kundennr. {v.cust_no}",
                    f"RG {d.number} VERTRAGSKONTO {v.cust_no}",
                    f"{d.number} {d.inv_date:%m/%Y}",
                ],
                "en": [f"Invoice {d.number} account {v.cust_no}", f"INV {d.number} DD {d.inv_date:%m/%Y}"],
                "nl": [f"Factuur {d.number} klantnummer {v.cust_no}", f"NOTA {d.number} {d.inv_date:%m-%Y}"],
                "fr": [f"FACTURE {d.number} CLIENT {v.cust_no}", f"PRLV FACT {d.number} {d.inv_date:%m/%Y}"],
            }[lang]
        )
        iban, bic = self.acct_at(v, day)
        tx = Tx(
            amount=d.gross,
            e2e=rng.choice([f"{d.number}"[:35], f"DD{v.vid[1:]}{d.seq}", f"{v.cust_no}-{d.inv_date:%Y%m}"]),
            name=sepa_text(v.name).upper()[:70],
            iban=iban,
            bic=bic,
            ustrd=self.render(text),
            mndt=v.mandate,
            ci=v.ci,
        )
        e = self.add_entry(
            Entry(
                d.company,
                day,
                d.gross,
                "DBIT",
                rng.choice(["dd_out", "dd_out", "b2b_out"]),
                [tx],
                label=self.lab_match("direct_debit", [d], "in_full"),
            )
        )
        self.pay(d, e, day, d.gross)
        return True

    def plan_unknown(self) -> None:
        rng = self.rng
        n = scaled(40, self.f)
        known = [v for v in self.vendors if v.profile == "transfer" and v.currency == "EUR" and v.alias_of is None]
        existing_names = {v.name for v in self.vendors}
        made = 0
        while made < n:
            day = rng.choice([d for d in BDAYS if d >= START + days(20)])
            if made < n * 5 // 8:
                v = rng.choice(known)
                comp = v.primary
                fmt, _per_year, _lo, hi, _g = STYLES[v.style]
                seq = max((c for s in v.seq.values() for c in s.values()), default=hi) + rng.randint(300, 900)
                num = fmt(day.year, day.month, seq)
                name, iban = self.name_for(v, "manual"), self.acct_at(v, day)
            else:
                c = rng.choice(["DE", "NL", "FR", "BE", "AT"])
                first, biz, forms = NAME_PARTS[c]
                nm = f"{rng.choice(first)} {rng.choice(biz)} {forms[0][0]}"
                if nm in existing_names:
                    continue
                comp = {"DE": "1000", "AT": "1000", "NL": "2000", "BE": "2000", "FR": "3000"}[c]
                v = None
                num = rng.choice(
                    [
                        f"RE-{rng.randint(10000, 99999)}",
                        f"{day.year}-{rng.randint(1000, 9999)}",
                        f"F{rng.randint(100000, 999999)}",
                    ]
                )
                name, iban = bank_name(nm, rng), new_account(rng, c)
            if norm_no(num) in self.all_norms[comp] or norm_no(num).lstrip("0") in self.all_norms[comp]:
                continue
            amt = rand_net(rng, "EUR") * D("1.19")
            amt = q2(amt)
            if v is not None and any(abs(d.gross - amt) <= D("50") for d in self.docs if d.vendor is v):
                continue
            lang = {"1000": "de", "2000": "nl", "3000": "fr"}[comp]
            text = self.text_for(lang, "one", n=num, d=fmt_date(day - days(rng.randint(10, 40)), lang), c="")
            self.manual_debit(
                comp,
                day,
                amt,
                v,
                ustrd=self.render(text),
                iban=iban,
                name=name,
                label={"class": "pays_unknown_invoice", "expect": "unmatched"},
            )
            made += 1

    def plan_default(self, p_run: float) -> None:
        rng = self.rng
        for doc in sorted(self.docs, key=lambda d: d.key):
            if not self.free(doc):
                continue
            v = doc.vendor
            if rng.random() < 0.03 and "instalment_ref" not in doc.tags:
                doc.pay_class = "unpaid"
                continue
            if v.profile == "dd":
                self.direct_debit(doc)
                continue
            if v.profile == "cheque" and rng.random() < 0.5:
                doc.pay_class = "cheque"
                if not self.cheque(doc):
                    doc.pay_class = None
                continue
            day = self.due_date_pay(doc)
            if day is None:
                continue
            if rng.random() < p_run:
                rd = self.run_day_for(doc, day)
                if rd is not None:
                    doc.pay_class = "e2e"
                    self.pending_run.append((rd, doc))
                    continue
            day, pct = self.maybe_discount(doc, day, 0.12)
            doc.pay_class = "exact"
            if pct is not None:
                self.simple_payment(
                    doc,
                    "exact_number",
                    day,
                    amount=doc.gross - self.discount_amount(doc, pct),
                    settles="with_discount",
                    discount_pct=pct,
                )
            else:
                self.simple_payment(doc, "exact_number", day)

    def build_runs(self) -> list[dict]:
        """Group the run payments into instructions, then book each run as single entries or one batch entry."""
        rng = self.rng
        by_run: dict[tuple[str, dt.date], dict[str, list[Doc]]] = {}
        for rd, doc in self.pending_run:
            by_run.setdefault((doc.company, rd), {}).setdefault(doc.vendor.vid, []).append(doc)
        for (company, rd), per_vendor in sorted(by_run.items()):
            for vid in sorted(per_vendor):
                docs = per_vendor[vid]
                groups = [docs] if len(docs) > 1 and rng.random() < 0.5 else [[d] for d in docs]
                for g in groups:
                    amt = sum((d.gross for d in g), ZERO)
                    tx = self.run_tx(
                        g,
                        company,
                        rd,
                        amt,
                        self.lab_match("e2e_payment_run", g, "in_full"),
                        " ".join(d.number for d in g),
                    )
                    for d in g:
                        self.pay(d, tx, tx.exec_day, d.gross)
        batches = []
        comps = self.comps
        for (company, rd), run in sorted(self.runs.items()):
            txs = run["txs"]
            exec_day = add_bd(rd, 1)
            batch_id = f"PR-{company}-{rd:%Y%m%d}"
            instr = []
            for tx in txs:
                instr.append(
                    {
                        "end_to_end_id": tx.e2e,
                        "invoice_ids": tx.docs,
                        "vendor_id": tx.vendor.vid,
                        "amount": money(tx.amount),
                        "currency": "EUR",
                        "creditor_iban": tx.iban,
                        "creditor_name": tx.name,
                        "remittance_info": tx.ustrd[0] if tx.ustrd else None,
                    }
                )
            batches.append(
                {
                    "batch_id": batch_id,
                    "company_code": company,
                    "debtor_iban": comps[company].iban,
                    "requested_execution_date": exec_day.isoformat(),
                    "instructions": instr,
                    "time": at(rd, 14, rng.randint(0, 59)),
                }
            )
            if len(txs) > 1 and rng.random() < 0.4:
                total = sum((t.amount for t in txs), ZERO)
                e = Entry(
                    company,
                    exec_day,
                    total,
                    "DBIT",
                    "sct_batch",
                    list(txs),
                    btch={"nb": len(txs), "ttl": total, "pmtinf": batch_id, "msgid": batch_id},
                )
                for t in txs:
                    t.pmtinf = batch_id
                self.add_entry(e)
            else:
                for t in txs:
                    e = Entry(company, exec_day, t.amount, "DBIT", "sct_out", [t], label=t.label)
                    t.label = None
                    self.add_entry(e)
        return batches

    # ---------------------------------------------------------------- lines that pay no supplier invoice
    def non_invoice(
        self,
        company,
        day,
        amount,
        cdi,
        kind,
        kind_label,
        *,
        name=None,
        iban=None,
        text=None,
        purp=None,
        e2e="NOTPROVIDED",
        mndt=None,
        ci=None,
        btch=None,
        addtl=None,
        notx=False,
        role=None,
    ) -> Entry:
        if day > END or not is_bd(day):
            day = prev_bd(min(day, END))
        tx = Tx(
            amount=amount if btch is None else None,
            e2e=e2e,
            name=name,
            iban=iban,
            ustrd=self.render(text, case="upper") if text else [],
            purp=purp,
            mndt=mndt,
            ci=ci,
            party_role=role or ("Cdtr" if cdi == "DBIT" else "Dbtr"),
        )
        e = Entry(
            company,
            day,
            amount,
            cdi,
            kind,
            [] if notx else [tx],
            btch=btch,
            addtl=addtl,
            label={"class": kind_label, "expect": "non_invoice", "kind": kind_label},
        )
        return self.add_entry(e)

    def plan_non_invoice(self) -> None:
        rng, comps = self.rng, self.comps
        auth_iban = {
            c: make_iban(cc.country, random_bban(rng, cc.country, BANKS[cc.country][0][0])) for c, cc in comps.items()
        }
        months = [(2025, 12)] + [(2026, m) for m in range(1, 12)]
        staff = {"1000": (85, 3900), "2000": (40, 3600), "3000": (35, 3300)}
        parties = {
            "1000": {
                "tax": "FINANZAMT NORDHAFEN",
                "ss": ["AOK NORDHAFEN", "BKK INDUSTRIE NORD"],
                "card": ["CARDSERVICE NORD GMBH", "TRAVELCARD ABRECHNUNG"],
            },
            "2000": {
                "tax": "BELASTINGDIENST",
                "ss": ["PENSIOENFONDS HAVENBEDRIJVEN"],
                "card": ["ZAKELIJKE CREDITCARD"],
            },
            "3000": {
                "tax": "DGFIP SIE NANTES",
                "ss": ["URSSAF PAYS DE LA LOIRE", "AGIRC-ARRCO RETRAITE"],
                "card": ["CARTE AFFAIRES"],
            },
        }
        cis = {c: creditor_identifier(comps[c].country, _digits(rng, 11 if c == "1000" else 9)) for c in comps}
        for company, cc in comps.items():
            n, avg = staff[company]
            p = parties[company]
            for y, m in months:
                mm = f"{m:02d}/{y}"
                # salaries: one batch booking per month, details withheld
                day = prev_bd(dt.date(y, m, 27))
                amt = q2(D(n * avg) * D(str(rng.uniform(0.96, 1.06))))
                self.non_invoice(
                    company,
                    day,
                    amt,
                    "DBIT",
                    "salary",
                    "salary",
                    text=f"LOHN GEHALT {mm}",
                    purp="SALA",
                    btch={"nb": n, "ttl": amt, "pmtinf": f"SAL{y}{m:02d}{company}"},
                )
                # taxes
                tday = next_bd(dt.date(y, m, 10))
                if company == "1000":
                    self.non_invoice(
                        company,
                        tday,
                        q2(D(rng.randint(38000, 125000)) + D(rng.randint(0, 99)) / 100),
                        "DBIT",
                        "dd_out",
                        "tax",
                        name=p["tax"],
                        iban=auth_iban[company],
                        text=f"UST-VA {m - 1 if m > 1 else 12:02d}/{y if m > 1 else y - 1} STNR 22/815/{40000 + m}",
                        purp="TAXS",
                        mndt="FA-LS-0815",
                        ci=cis[company],
                        e2e=f"FA{y}{m:02d}0815",
                    )
                    self.non_invoice(
                        company,
                        tday,
                        q2(D(rng.randint(52000, 78000)) + D(rng.randint(0, 99)) / 100),
                        "DBIT",
                        "sct_out",
                        "tax",
                        name=p["tax"],
                        iban=auth_iban[company],
                        text=f"LOHNSTEUER {mm} STNR 22/815/40815",
                        purp="TAXS",
                    )
                elif company == "2000":
                    kenmerk = " ".join(_digits(rng, 4) for _ in range(4))
                    self.non_invoice(
                        company,
                        prev_bd(tday + days(15)),
                        q2(D(rng.randint(21000, 39000))),
                        "DBIT",
                        "sct_out",
                        "tax",
                        name=p["tax"],
                        iban=auth_iban[company],
                        text=f"BETALINGSKENMERK {kenmerk} LOONHEFFINGEN",
                        purp="TAXS",
                    )
                    if m in (1, 4, 7, 10):
                        kenmerk = " ".join(_digits(rng, 4) for _ in range(4))
                        self.non_invoice(
                            company,
                            next_bd(dt.date(y, m, 28)),
                            q2(D(rng.randint(60000, 140000))),
                            "DBIT",
                            "sct_out",
                            "tax",
                            name=p["tax"],
                            iban=auth_iban[company],
                            text=f"BETALINGSKENMERK {kenmerk} OMZETBELASTING",
                            purp="TAXS",
                        )
                else:
                    self.non_invoice(
                        company,
                        next_bd(dt.date(y, m, 19)),
                        q2(D(rng.randint(25000, 90000))),
                        "DBIT",
                        "b2b_out",
                        "tax",
                        name=p["tax"],
                        iban=auth_iban[company],
                        text=f"TVA {m:02d}{y} PRLV DGFIP",
                        purp="TAXS",
                        mndt="DGFIP-TVA-01",
                        ci=cis[company],
                        e2e=f"DGFIP{y}{m:02d}",
                    )
                # social security
                ss_day = add_bd(dt.date(y, m, 28) if m != 2 else dt.date(y, m, 25), -1)
                for party in p["ss"]:
                    self.non_invoice(
                        company,
                        ss_day,
                        q2(D(rng.randint(8000, 70000)) + D(rng.randint(0, 99)) / 100),
                        "DBIT",
                        "dd_out",
                        "social_security",
                        name=party,
                        iban=make_iban(cc.country, random_bban(rng, cc.country, BANKS[cc.country][1][0])),
                        text=f"BEITRAG {mm} BETRIEBSNR {company}4711",
                        mndt=f"SV{company}{len(party)}",
                        ci=cis[company],
                        e2e=f"SV{y}{m:02d}{len(party)}",
                    )
                # bank fees and interest
                fday = next_bd(dt.date(y, m, 1))
                self.non_invoice(
                    company,
                    fday,
                    q2(D(rng.randint(4000, 39000)) / 100),
                    "DBIT",
                    "fee",
                    "bank_fee",
                    addtl=f"{BOOKING_TEXT[cc.bank_style]['fee']} {mm}",
                    notx=True,
                )
                if company == "1000":
                    self.non_invoice(
                        company,
                        add_bd(fday, 2),
                        q2(D(rng.randint(1500, 9000)) / 100),
                        "DBIT",
                        "fee",
                        "bank_fee",
                        addtl=f"ENTGELT SEPA-DATEIEN {mm}",
                        notx=True,
                    )
                iday = prev_bd(dt.date(y, m, 28) + days(3))
                self.non_invoice(
                    company,
                    iday,
                    q2(D(rng.randint(500, 60000)) / 100),
                    "CRDT",
                    "interest",
                    "interest",
                    addtl=f"{BOOKING_TEXT[cc.bank_style]['interest']} {mm}",
                    notx=True,
                )
                if m in (3, 6, 9) and company != "1000":
                    self.non_invoice(
                        company,
                        add_bd(iday, -1),
                        q2(D(rng.randint(2000, 30000)) / 100),
                        "DBIT",
                        "interest",
                        "interest",
                        addtl=f"DEBETRENTE KWARTAAL {m // 3}",
                        notx=True,
                    )
                # card settlements
                for party in p["card"]:
                    self.non_invoice(
                        company,
                        next_bd(dt.date(y, m, 15)),
                        q2(D(rng.randint(120000, 1800000)) / 100),
                        "DBIT",
                        "dd_out",
                        "card_settlement",
                        name=party,
                        iban=make_iban(cc.country, random_bban(rng, cc.country, BANKS[cc.country][2][0])),
                        text=f"KARTENABRECHNUNG {mm} KARTE XXXX{rng.randint(1000, 9999)}",
                        mndt=f"CARD{company}",
                        ci=cis[company],
                        e2e=f"CC{y}{m:02d}{company}",
                    )
        # off-cycle salary payments to individual (placeholder) employees
        names = ["ERIKA MUSTERMANN", "MAX MUSTERMANN", "JAN JANSEN", "JEAN DUPONT", "MARIE DUPONT", "PIET PIETERSEN"]
        for _ in range(scaled(12, self.f)):
            company = rng.choice(list(comps))
            cc = comps[company]
            day = rng.choice(BDAYS)
            self.non_invoice(
                company,
                day,
                q2(D(rng.randint(40000, 450000)) / 100),
                "DBIT",
                "salary",
                "salary",
                name=rng.choice(names),
                iban=make_iban(cc.country, random_bban(rng, cc.country, BANKS[cc.country][0][0])),
                text=rng.choice(["GEHALTSVORSCHUSS", "BONUS 2026", "KORREKTUR GEHALT", "PRIME"])
                + f" PERS-NR {rng.randint(1000, 9999)}",
                purp="SALA",
            )
        # down payments to suppliers (no invoice yet)
        pool = [v for v in self.vendors if v.profile == "transfer" and v.currency == "EUR" and v.alias_of is None]
        made = 0
        while made < scaled(40, self.f):
            v = rng.choice(pool)
            day = rng.choice(BDAYS)
            amt = q2(
                D(rng.choice([1500, 2500, 4000, 5000, 7500, 10000, 12000, 15000, 25000]))
                * D(rng.choice(["0.3", "0.5", "1", "0.25"]))
                * D("1.19")
                if v.country == "DE"
                else D(rng.choice([2000, 3000, 5000, 8000, 12500, 20000]))
            )
            if any(d.gross == amt for d in self.docs if d.vendor is v):
                continue
            lang = self.lang(v.primary, v)
            po = f"45{rng.randint(10000000, 99999999)}"
            text = rng.choice(
                {
                    "de": [
                        f"ANZAHLUNG LT. AUFTRAG {po}",
                        f"Anzahlung Bestellung {po} 30%",
                        f"ABSCHLAG AUFTRAGSBESTAETIGUNG {po}",
                    ],
                    "en": [f"ADVANCE PAYMENT PO {po}", f"Down payment order {po}"],
                    "nl": [f"AANBETALING ORDER {po}", f"vooruitbetaling bestelling {po}"],
                    "fr": [f"ACOMPTE COMMANDE {po}", f"ACOMPTE 30% BC {po}"],
                }[lang]
            )
            iban, bic = self.acct_at(v, day)
            self.manual_debit(
                v.primary,
                day,
                amt,
                v,
                ustrd=self.render(text),
                iban=(iban, bic),
                purp="ADVA",
                label={"class": "down_payment", "expect": "non_invoice", "kind": "down_payment"},
            )
            made += 1
        # intercompany transfers: both sides are on our statements
        codes = list(comps)
        for i in range(scaled(24, self.f)):
            a, b = rng.sample(codes, 2)
            day = rng.choice(BDAYS)
            amt = q2(D(rng.choice([50000, 75000, 100000, 150000, 200000, 250000, 400000])))
            ref = rng.choice(
                [
                    f"KONZERNVERRECHNUNG {day:%m/%Y}",
                    f"INTERCOMPANY LOAN IC-{day:%y%m}-{i:03d}",
                    f"CASH POOLING {day:%d.%m.%Y}",
                    f"IC SETTLEMENT {day:%m/%Y}",
                ]
            )
            e2e = f"IC{day:%y%m%d}{i:04d}"
            self.non_invoice(
                a,
                day,
                amt,
                "DBIT",
                "sct_out",
                "intercompany",
                name=sepa_text(comps[b].name).upper(),
                iban=comps[b].iban,
                text=ref,
                purp="INTC",
                e2e=e2e,
            )
            self.non_invoice(
                b,
                day,
                amt,
                "CRDT",
                "sct_in",
                "intercompany",
                name=sepa_text(comps[a].name).upper(),
                iban=comps[a].iban,
                text=ref,
                purp="INTC",
                e2e=e2e,
            )

    def customer_receipts(self, company: str, day: dt.date, total: Decimal) -> None:
        rng = self.rng
        k = rng.randint(1, 4)
        shares = [rng.random() + 0.2 for _ in range(k)]
        s = sum(shares)
        left = total
        for i, sh in enumerate(shares):
            amt = left if i == k - 1 else q2(total * D(str(sh / s)))
            left -= amt
            if amt <= 0:
                continue
            c = rng.choice(["DE", "NL", "FR", "BE", "AT", "IT", "ES"])
            first, biz, forms = NAME_PARTS[c]
            cust = f"{rng.choice(first)} {rng.choice(biz)} {forms[0][0]}"
            ar = f"D{company}-{day.year}-{rng.randint(100, 99999):05d}"
            text = rng.choice(
                [
                    f"Rechnung {ar}",
                    f"INV {ar}",
                    f"Factuur {ar}",
                    f"FACT {ar}",
                    f"{ar} {ar[:-1]}{rng.randint(0, 9)}",
                    f"Zahlung {ar} abzgl. 2% Skonto",
                    f"KD-NR 4711 RE {ar}",
                ]
            )
            self.non_invoice(
                company,
                day,
                amt,
                "CRDT",
                "sct_in",
                "customer_receipt",
                name=bank_name(cust, rng),
                iban=make_iban(c, random_bban(rng, c, rng.choice(BANKS[c])[0])),
                text=text,
                e2e=rng.choice(["NOTPROVIDED", f"{rng.randint(10**9, 10**10)}", f"E2E{ar[-5:]}"]),
            )


# --------------------------------------------------------------------------------------------------------------
# statements: balances, references, camt.053 / camt.054 XML
# --------------------------------------------------------------------------------------------------------------
def unit_of(obj):
    """The labeled line an entry or transaction detail belongs to."""
    if isinstance(obj, Tx):
        return obj.entry if len(obj.entry.txs) == 1 else obj
    return obj


def balance_and_refs(pl: Planner) -> dict:
    """Adds customer receipts so each account stays in a plausible range, then numbers the entries day by day."""
    rng = pl.rng
    by_key: dict[tuple[str, dt.date], list[Entry]] = {}
    for e in pl.entries:
        if e.book > END:
            raise AssertionError(f"entry after the statement window: {e.book}")
        e.book = next_bd(e.book) if not is_bd(e.book) else e.book
        by_key.setdefault((e.company, e.book), []).append(e)
    stmts = {}
    seqs = {c: 0 for c in pl.comps}
    for company, cc in pl.comps.items():
        bal = cc.opening
        target = cc.opening
        for elec, day in enumerate(BDAYS, 1):
            ents = by_key.get((company, day), [])
            deb = sum((e.amount for e in ents if e.cdi == "DBIT"), ZERO)
            cred = sum((e.amount for e in ents if e.cdi == "CRDT"), ZERO)
            want = deb * D(str(rng.uniform(0.6, 1.35))) + (target - (bal - deb + cred)) * D("0.3")
            if want > D("500"):
                before = len(pl.entries)
                pl.customer_receipts(company, day, q2(want))
                ents = ents + pl.entries[before:]
                by_key[(company, day)] = ents
            ents.sort(key=lambda e: (e.order, e.amount))
            opening = bal
            for e in ents:
                seqs[company] += 1
                s = seqs[company]
                e.ref = {"DK": f"{day:%Y%m%d}{s:07d}", "NL": f"RABO{day:%y%m%d}{s:06d}", "FR": f"{day:%y%j}FR{s:07d}"}[
                    cc.bank_style
                ]
                if len(e.txs) > 1:
                    for i, t in enumerate(e.txs, 1):
                        t.ref = f"{e.ref}-{i:03d}"
                bal += e.amount if e.cdi == "CRDT" else -e.amount
            stmts[(company, day)] = {"opening": opening, "closing": bal, "entries": ents, "seq": elec}
    return stmts


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


class X:
    def __init__(self, ns: str):
        self.ns = ns

    def sub(self, parent, tag, text=None, **attrs):
        e = etree.SubElement(parent, _q(self.ns, tag), {k: v for k, v in attrs.items()})
        if text is not None:
            e.text = text
        return e

    def amt(self, parent, tag, value: Decimal, ccy: str = "EUR"):
        return self.sub(parent, tag, money(value) if ccy != "JPY" else str(value), Ccy=ccy)


def write_btc(x: X, parent, kind: str, style: str, day: dt.date, subfam_override=None):
    b = x.sub(parent, "BkTxCd")
    dom, fam, sub = BTC[kind]
    dm = x.sub(b, "Domn")
    x.sub(dm, "Cd", dom)
    fm = x.sub(dm, "Fmly")
    x.sub(fm, "Cd", fam)
    x.sub(fm, "SubFmlyCd", subfam_override or sub)
    pr = x.sub(b, "Prtry")
    code = PRTRY[style][kind]
    if style == "DK":
        assert isinstance(code, tuple)  # DK codes are (SWIFT code, GVC) pairs
        swift, gvc = code
        x.sub(pr, "Cd", f"{swift}+{gvc}+{9200 + (day.toordinal() % 97):04d}")
        x.sub(pr, "Issr", "DK")
    else:
        x.sub(pr, "Cd", code)
        x.sub(pr, "Issr", {"NL": "RABOBANK", "FR": "CFONB"}[style])


def write_party(
    x: X, parent, role: str, name: str | None, iban: str | None, other: str | None = None, ci: str | None = None
):
    if name or ci:
        p = x.sub(parent, role)
        if name:
            x.sub(p, "Nm", name[:140])
        if ci:
            pid = x.sub(x.sub(p, "Id"), "PrvtId")
            o = x.sub(pid, "Othr")
            x.sub(o, "Id", ci)
            x.sub(x.sub(o, "SchmeNm"), "Prtry", "SEPA")
    if iban or other:
        a = x.sub(parent, role + "Acct")
        i = x.sub(a, "Id")
        if iban:
            x.sub(i, "IBAN", iban)
        else:
            x.sub(x.sub(i, "Othr"), "Id", other)


def write_tx(x: X, parent, e: Entry, t: Tx, comp: Company, style: str, several: bool, rng: random.Random):
    td = x.sub(parent, "TxDtls")
    refs = x.sub(td, "Refs")
    if e.btch and e.btch.get("msgid"):
        x.sub(refs, "MsgId", e.btch["msgid"])
    if several and t.ref:
        x.sub(refs, "AcctSvcrRef", t.ref)
    if t.pmtinf:
        x.sub(refs, "PmtInfId", t.pmtinf)
    x.sub(refs, "EndToEndId", t.e2e or "NOTPROVIDED")
    if t.mndt:
        x.sub(refs, "MndtId", t.mndt)
    if t.chq:
        x.sub(refs, "ChqNb", t.chq)
    if t.amount is not None or t.instd is not None:
        ad = x.sub(td, "AmtDtls")
        if t.instd is not None:
            ia = x.sub(ad, "InstdAmt")
            x.amt(ia, "Amt", t.instd[0], t.instd[1])
            if t.instd[2] is not None:
                cx = x.sub(ia, "CcyXchg")
                x.sub(cx, "SrcCcy", "EUR")
                x.sub(cx, "TrgtCcy", t.instd[1])
                x.sub(cx, "UnitCcy", "EUR")
                x.sub(cx, "XchgRate", str(t.instd[2]))
        if t.amount is not None:
            x.amt(x.sub(ad, "TxAmt"), "Amt", t.amount)
    if several:
        write_btc(x, td, e.kind, style, e.book)
    for amount, br in t.chrgs:
        c = x.sub(td, "Chrgs")
        x.amt(c, "Amt", amount)
        x.sub(c, "Br", br)
    if t.name or t.iban or t.other_acct or t.ci or e.cdi:
        rp = x.sub(td, "RltdPties")
        own_name = sepa_text(comp.name).upper() if rng.random() < 0.5 else None
        if t.party_role == "Cdtr":  # our debit: we are the debtor
            if own_name:
                write_party(x, rp, "Dbtr", own_name, comp.iban)
            write_party(x, rp, "Cdtr", t.name, t.iban, t.other_acct, t.ci)
        else:
            write_party(x, rp, "Dbtr", t.name, t.iban, t.other_acct)
            if own_name:
                write_party(x, rp, "Cdtr", own_name, comp.iban)
        if not len(rp):
            td.remove(rp)
    if t.bic:
        ag = x.sub(td, "RltdAgts")
        x.sub(x.sub(x.sub(ag, "CdtrAgt" if t.party_role == "Cdtr" else "DbtrAgt"), "FinInstnId"), "BIC", t.bic)
    if t.purp:
        x.sub(x.sub(td, "Purp"), "Cd", t.purp)
    if t.ustrd or t.strd:
        ri = x.sub(td, "RmtInf")
        for u in t.ustrd:
            if u:
                x.sub(ri, "Ustrd", u[:140])
        for s in t.strd:
            st = x.sub(ri, "Strd")
            if "rf" in s:
                cri = x.sub(st, "CdtrRefInf")
                x.sub(x.sub(x.sub(cri, "Tp"), "CdOrPrtry"), "Cd", "SCOR")
                x.sub(cri, "Ref", s["rf"])
                continue
            rdi = x.sub(st, "RfrdDocInf")
            x.sub(x.sub(x.sub(rdi, "Tp"), "CdOrPrtry"), "Cd", s["tp"])
            x.sub(rdi, "Nb", s["nb"][:35])
            x.sub(rdi, "RltdDt", s["dt"].isoformat())
            ra = x.sub(st, "RfrdDocAmt")
            if s.get("due") is not None:
                x.amt(ra, "DuePyblAmt", s["due"])
            if s.get("disc") is not None:
                x.amt(ra, "DscntApldAmt", s["disc"])
            if s.get("cn") is not None:
                x.amt(ra, "CdtNoteAmt", s["cn"])
            if s.get("rmtd") is not None:
                x.amt(ra, "RmtdAmt", s["rmtd"])
    if t.rtr:
        ri = x.sub(td, "RtrInf")
        x.sub(x.sub(ri, "Rsn"), "Cd", t.rtr[0])
        x.sub(ri, "AddtlInf", t.rtr[1])


def write_entry(x: X, parent, e: Entry, comp: Company, rng: random.Random):
    style = comp.bank_style
    n = x.sub(parent, "Ntry")
    x.amt(n, "Amt", e.amount)
    x.sub(n, "CdtDbtInd", e.cdi)
    x.sub(n, "Sts", "BOOK")
    x.sub(x.sub(n, "BookgDt"), "Dt", e.book.isoformat())
    x.sub(x.sub(n, "ValDt"), "Dt", (e.val or e.book).isoformat())
    x.sub(n, "AcctSvcrRef", e.ref)
    write_btc(x, n, e.kind, style, e.book)
    for amount, br in e.chrgs:
        c = x.sub(n, "Chrgs")
        x.amt(c, "Amt", amount)
        x.sub(c, "CdtDbtInd", "DBIT")
        x.sub(c, "Br", br)
    if e.btch or e.txs:
        nd = x.sub(n, "NtryDtls")
        if e.btch:
            b = x.sub(nd, "Btch")
            if e.btch.get("msgid"):
                x.sub(b, "MsgId", e.btch["msgid"])
            x.sub(b, "PmtInfId", e.btch["pmtinf"])
            x.sub(b, "NbOfTxs", str(e.btch["nb"]))
            x.amt(b, "TtlAmt", e.btch["ttl"])
            x.sub(b, "CdtDbtInd", e.cdi)
        several = len(e.txs) > 1
        for t in e.txs:
            write_tx(x, nd, e, t, comp, style, several, rng)
    addtl = e.addtl or BOOKING_TEXT[style][e.kind]
    x.sub(n, "AddtlNtryInf", addtl[:500])


def totals(x: X, parent, ents: list[Entry]):
    cr = [e.amount for e in ents if e.cdi == "CRDT"]
    db = [e.amount for e in ents if e.cdi == "DBIT"]
    net = sum(cr, ZERO) - sum(db, ZERO)
    ts = x.sub(parent, "TxsSummry")
    tt = x.sub(ts, "TtlNtries")
    x.sub(tt, "NbOfNtries", str(len(ents)))
    x.sub(tt, "Sum", money(sum(cr, ZERO) + sum(db, ZERO)))
    x.sub(tt, "TtlNetNtryAmt", money(abs(net)))
    x.sub(tt, "CdtDbtInd", "CRDT" if net >= 0 else "DBIT")
    for tag, lst in (("TtlCdtNtries", cr), ("TtlDbtNtries", db)):
        t = x.sub(ts, tag)
        x.sub(t, "NbOfNtries", str(len(lst)))
        x.sub(t, "Sum", money(sum(lst, ZERO)))


def acct_block(x: X, parent, comp: Company):
    a = x.sub(parent, "Acct")
    x.sub(x.sub(a, "Id"), "IBAN", comp.iban)
    x.sub(a, "Ccy", "EUR")
    x.sub(x.sub(a, "Ownr"), "Nm", sepa_text(comp.name).upper())
    x.sub(x.sub(x.sub(a, "Svcr"), "FinInstnId"), "BIC", comp.bic)


def bal(x: X, parent, code: str, amount: Decimal, day: dt.date):
    b = x.sub(parent, "Bal")
    x.sub(x.sub(x.sub(b, "Tp"), "CdOrPrtry"), "Cd", code)
    x.amt(b, "Amt", abs(amount))
    x.sub(b, "CdtDbtInd", "CRDT" if amount >= 0 else "DBIT")
    x.sub(x.sub(b, "Dt"), "Dt", day.isoformat())


def write_statements(pl: Planner, stmts: dict, bank_dir: Path, rng: random.Random) -> list[tuple]:
    """One camt.053.001.02 per account and business day; intraday camt.054.001.02 for a few debits."""
    written = []
    for (company, day), s in sorted(stmts.items()):
        comp = pl.comps[company]
        x = X(NS053)
        root = etree.Element(_q(NS053, "Document"), nsmap={None: NS053})
        body = x.sub(root, "BkToCstmrStmt")
        gh = x.sub(body, "GrpHdr")
        msg = f"C53{comp.acct_short}{day:%Y%m%d}{s['seq']:04d}"
        x.sub(gh, "MsgId", msg)
        cre = at(day, 21, 30 + (int(company) // 1000), 0)
        x.sub(gh, "CreDtTm", cre.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
        pg = x.sub(gh, "MsgPgntn")
        x.sub(pg, "PgNb", "1")
        x.sub(pg, "LastPgInd", "true")
        st = x.sub(body, "Stmt")
        x.sub(st, "Id", f"{comp.acct_short}-{day:%Y-%m-%d}")
        x.sub(st, "ElctrncSeqNb", str(s["seq"]))
        x.sub(st, "CreDtTm", cre.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
        fr = x.sub(st, "FrToDt")
        x.sub(fr, "FrDtTm", f"{day.isoformat()}T00:00:00Z")
        x.sub(fr, "ToDtTm", f"{day.isoformat()}T23:59:59Z")
        acct_block(x, st, comp)
        bal(x, st, "OPBD", s["opening"], day)
        bal(x, st, "CLBD", s["closing"], day)
        totals(x, st, s["entries"])
        for e in s["entries"]:
            write_entry(x, st, e, comp, random.Random(e.ref))
        name = f"camt053_{company}_{comp.acct_short}_{day:%Y%m%d}.xml"
        for e in s["entries"]:
            e.file = f"bank/{name}"
        (bank_dir / name).write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
        written.append(("053", name, cre))
        intraday = [e for e in s["entries"] if e.in054]
        if intraday:
            x4 = X(NS054)
            r4 = etree.Element(_q(NS054, "Document"), nsmap={None: NS054})
            b4 = x4.sub(r4, "BkToCstmrDbtCdtNtfctn")
            g4 = x4.sub(b4, "GrpHdr")
            cre4 = at(day, 11, 5 + int(company) // 1000, 0)
            x4.sub(g4, "MsgId", f"C54{comp.acct_short}{day:%Y%m%d}01")
            x4.sub(g4, "CreDtTm", cre4.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
            nt = x4.sub(b4, "Ntfctn")
            x4.sub(nt, "Id", f"{comp.acct_short}-N-{day:%Y-%m-%d}-1")
            x4.sub(nt, "CreDtTm", cre4.strftime("%Y-%m-%dT%H:%M:%S") + "Z")
            acct_block(x4, nt, comp)
            for e in intraday:
                write_entry(x4, nt, e, comp, random.Random(e.ref))
            n4 = f"camt054_{company}_{comp.acct_short}_{day:%Y%m%d}_1.xml"
            for e in intraday:
                e.file054 = f"bank/{n4}"
            (bank_dir / n4).write_bytes(etree.tostring(r4, xml_declaration=True, encoding="UTF-8", pretty_print=True))
            written.append(("054", n4, cre4))
    return written


# --------------------------------------------------------------------------------------------------------------
# the open ledger as a clerk sees it on a given day; lines matched on amount alone must be unambiguous
# --------------------------------------------------------------------------------------------------------------
def open_at(d: Doc, day: dt.date) -> bool:
    if d.post is None or d.post.date() > day or d.dup_of is not None:
        return False
    if "reversed" in d.tags or "reversal_cn" in d.tags:
        return False
    return all(not (iv[0] < day and (iv[1] is None or day < iv[1])) for iv in getattr(d, "closed_iv", []))


def subsets_matching(cands: list[Doc], k: int, amount: Decimal, limit: int = 4) -> Sequence[tuple[Doc, ...] | None]:
    out: list[tuple[Doc, ...]] = []
    if k == 1:
        return [(d,) for d in cands if d.gross == amount]
    if k == 2:
        by_amt: dict[Decimal, list[int]] = {}
        for i, d in enumerate(cands):
            for j in by_amt.get(amount - d.gross, []):
                out.append((cands[j], d))
            by_amt.setdefault(d.gross, []).append(i)
        return out
    if len(cands) > 60 and k > 3:
        return [None] * 2  # too many to be sure: treat as ambiguous
    if k == 3:
        idx: dict[Decimal, list[int]] = {}
        for i, d in enumerate(cands):
            idx.setdefault(d.gross, []).append(i)
        for i in range(len(cands)):
            for j in range(i + 1, len(cands)):
                rest = amount - cands[i].gross - cands[j].gross
                for m in idx.get(rest, []):
                    if m > j:
                        out.append((cands[i], cands[j], cands[m]))
                        if len(out) >= limit:
                            return out
        return out
    for combo in itertools.combinations(cands, k):
        if sum((d.gross for d in combo), ZERO) == amount:
            out.append(combo)
            if len(out) >= limit:
                break
    return out


def check_amount_only(pl: Planner) -> int:
    downgraded = 0
    for entry, scope, targets in pl.amount_only:
        day, amount = entry.book, entry.amount
        if scope[0] == "vendor":
            v = scope[1]
            same = {v.vid} | ({v.alias.vid} if v.alias else set()) | ({v.alias_of.vid} if v.alias_of else set())
            cands = [
                d
                for d in pl.docs
                if d.vendor.vid in same
                and d.company == entry.company
                and open_at(d, day)
                and d.kind == "invoice"
                and d.currency == "EUR"
            ]
            k = len(targets)
        else:
            cands = [
                d
                for d in pl.docs
                if d.company == scope[1] and open_at(d, day) and d.kind == "invoice" and d.currency == "EUR"
            ]
            k = scope[2]
        found = subsets_matching(cands, k, amount)
        if len(found) == 1 and found[0] is not None and set(found[0]) == set(targets):
            continue
        cand = {x for combo in found if combo for x in combo} | set(targets)
        entry.label = {
            "class": entry.label["class"],
            "expect": "review",
            "candidates": sorted(cand, key=lambda d: d.key),
            "was_intended": list(targets),
        }
        downgraded += 1
    return downgraded


# --------------------------------------------------------------------------------------------------------------
# output: canonical events, labels, self-check
# --------------------------------------------------------------------------------------------------------------
def envelope(
    eid: str, etype: str, source: str, t: dt.datetime, payload: dict, corr: str | None = None, batch: str | None = None
) -> dict:
    ev = {"event_id": eid, "event_type": etype, "schema_version": 1, "source_system": source, "event_time": iso_z(t)}
    if corr:
        ev["correlation_id"] = corr
    if batch:
        ev["batch_correlation_id"] = batch
    ev["payload"] = payload
    return ev


def signed(x: Decimal, neg: bool) -> str:
    return money(-x) if (neg and x != 0) else money(x)


def write_jsonl(path: Path, events: list[dict]) -> None:
    with path.open("wb") as fh:
        for ev in events:
            fh.write(orjson.dumps(ev) + b"\n")


def assign_ids(pl: Planner, fac: DocFactory) -> None:
    for i, d in enumerate(sorted(fac.docs, key=lambda d: (d.capture, d.key)), 1):
        d.iid = f"AP-{i:08d}"
    for company in pl.comps:
        posted = sorted([d for d in fac.docs if d.company == company and d.post is not None], key=post_of)
        for i, d in enumerate(posted, 1):
            d.erp_no = {"1000": f"51{i + 4000:08d}", "2000": f"APINV{i + 120:07d}", "3000": f"3{i + 88000:09d}"}[
                company
            ]
            d.fy = post_of(d).year


def events_out(pl: Planner, fac: DocFactory, batches: list[dict], inp: Path) -> None:
    end_t = at(END, 23, 59, 59)
    vev = []
    t0 = dt.datetime(2025, 11, 28, 6, 0, 0)
    for i, v in enumerate(pl.vendors):
        accts = pl.acct_hist[v.vid][0][1]
        vev.append((t0 + dt.timedelta(seconds=i), v, accts))
    vev += [(t, v, a) for t, v, a in pl.vendor_updates]
    vev.sort(key=lambda x: (x[0], x[1].vid))
    write_jsonl(
        inp / "vendors.jsonl",
        [
            envelope(
                f"ven-{i:06d}",
                "vendor.upserted",
                "vendor-master",
                t,
                {
                    "vendor_id": v.vid,
                    "name": v.name,
                    "tax_id": v.tax_id,
                    "country": v.country,
                    "bank_accounts": [{"iban": a, "bic": b} for a, b in accts],
                    "active": True,
                },
            )
            for i, (t, v, accts) in enumerate(vev, 1)
        ],
    )
    inv = []
    for d in sorted(fac.docs, key=lambda d: (d.capture, d.key)):
        assert d.capture is not None  # plan_capture has run on every document
        if d.capture > end_t:
            continue
        neg = d.kind == "credit_note" and d.signed
        p = {
            "invoice_id": d.iid,
            "supplier_invoice_number": d.number,
            "document_type": d.type_field if d.kind == "credit_note" else "invoice",
            "vendor_id": d.vendor.vid,
            "company_code": d.company,
            "invoice_date": d.inv_date.isoformat(),
            "due_date": d.due.isoformat() if d.due else None,
            "currency": d.currency,
            "net_amount": signed(d.net, neg),
            "tax_amount": signed(d.tax, neg),
            "gross_amount": signed(d.gross, neg),
        }
        if d.rf:
            p["creditor_reference"] = d.rf
        inv.append(envelope(f"inv-{d.key:09d}", "invoice.captured", "ap-platform", d.capture, p, d.corr))
    write_jsonl(inp / "invoices.jsonl", inv)
    st = []
    for d in fac.docs:
        if d.approve is not None and d.approve <= end_t:
            st.append(
                envelope(
                    f"sts-{d.key:09d}-a",
                    "invoice.status_changed",
                    "ap-platform",
                    d.approve,
                    {"invoice_id": d.iid, "status": "approved"},
                    d.corr,
                )
            )
        if d.post is not None and d.post <= end_t:
            st.append(
                envelope(
                    f"sts-{d.key:09d}-p",
                    "invoice.status_changed",
                    pl.comps[d.company].erp,
                    d.post,
                    {
                        "invoice_id": d.iid,
                        "status": "posted",
                        "erp_system": pl.comps[d.company].erp,
                        "erp_document_number": d.erp_no,
                        "fiscal_year": d.fy,
                        "posting_date": d.post.date().isoformat(),
                    },
                    d.corr,
                )
            )
    st.sort(key=lambda e: (e["event_time"], e["event_id"]))
    write_jsonl(inp / "invoice_status.jsonl", st)
    pb = []
    for i, b in enumerate(sorted(batches, key=lambda b: (b["time"], b["batch_id"])), 1):
        payload = {k: v for k, v in b.items() if k != "time"}
        payload["instructions"] = [
            {**ins, "invoice_ids": [d.iid for d in ins["invoice_ids"]]} for ins in b["instructions"]
        ]
        pb.append(
            envelope(f"pb-{i:06d}", "payment_batch.released", "payment-hub", b["time"], payload, batch=b["batch_id"])
        )
    write_jsonl(inp / "payment_batches.jsonl", pb)


def line_label(u, e: Entry) -> dict:
    lab = u.label if isinstance(u, Tx) else e.label
    if lab is None:
        raise AssertionError(f"unlabeled line {u.ref}")
    amount = u.amount if isinstance(u, Tx) else e.amount
    out = {"ref": u.ref, "file": e.file, "class": lab["class"], "expect": lab["expect"]}
    if lab["expect"] == "match":
        out["invoice_ids"] = [d.iid for d in lab["docs"]]
        out["settles"] = lab["settles"]
    elif lab["expect"] == "review":
        out["candidates"] = [d.iid for d in lab["candidates"]]
    elif lab["expect"] == "return":
        out["returns"] = unit_of(lab["returns"]).ref
        out["reopens"] = [d.iid for d in lab["reopens"]]
    elif lab["expect"] == "non_invoice":
        out["kind"] = lab["kind"]
    out["booking_date"] = e.book.isoformat()
    out["amount"] = money(amount) if amount is not None else None
    out["credit_debit"] = e.cdi
    if e.file054:
        out["also_in"] = [e.file054]
    return out


def negatives(st: dict, fac: DocFactory) -> list[dict]:
    end_t = at(END, 23, 59, 59)
    ok = lambda *ds: all(d.capture <= end_t for d in ds)  # noqa: E731
    out = []
    for grp in st["instalments"]:
        out.append({"invoice_ids": [d.iid for d in grp], "class": "instalments_same_day"})
    rec: dict[str, list[Doc]] = {}
    for d in st["recurring"]:
        rec.setdefault(d.vendor.vid, []).append(d)
    for vid in sorted(rec):
        lst = sorted(rec[vid], key=lambda d: d.inv_date)
        for a, b in itertools.pairwise(lst):
            out.append({"invoice_ids": [a.iid, b.iid], "class": "recurring_monthly"})
    for key, cls in (
        ("next_pair", "next_invoice"),
        ("same_number", "same_number_other_vendor"),
        ("cn_reversal", "credit_note_reversal"),
        ("reissue", "reissued_after_credit_note"),
        ("year_rollover", "year_rollover"),
        ("tie", "same_amount_other_number"),
    ):
        for pair in st[key]:
            if ok(*pair):
                out.append({"invoice_ids": [pair[0].iid, pair[1].iid], "class": cls})
    return [o for o in out if all(o["invoice_ids"])]


def final_state(pl: Planner, fac: DocFactory) -> dict:
    end_t = at(END, 23, 59, 59)
    paid, open_, cleared, residual = [], [], [], {}
    for d in sorted(fac.docs, key=lambda d: d.iid):
        assert d.capture is not None  # plan_capture has run on every document
        if d.dup_of is not None or d.capture > end_t:
            continue
        if "reversed" in d.tags or "reversal_cn" in d.tags:
            cleared.append(d.iid)
            continue
        ivs = getattr(d, "closed_iv", [])
        if ivs and ivs[-1][1] is None:
            paid.append(d.iid)
        else:
            open_.append(d.iid)
            part = ZERO if d.reopened else sum((a for (_day, a, _u) in d.paid_by), ZERO)
            if part > 0:
                residual[d.iid] = money(d.gross - part)
    return {"paid": paid, "open": open_, "cleared_by_credit_note": cleared, "residual_open_amounts": residual}


def self_check(out: Path, labels: dict, fac: DocFactory, pl: Planner, batches: list[dict]) -> list[str]:
    """Re-reads what was written and asserts the promises of README.md. Returns a list of problems."""
    problems: list[str] = []
    ns = {"c": NS053}
    by_iid = {d.iid: d for d in fac.docs}
    seen_refs: dict[str, str] = {}
    last_close: dict[str, tuple] = {}
    money_re = re.compile(r"^-?\d+\.\d{2}$")
    iban_count = 0
    for path in sorted((out / "input" / "bank").glob("camt053_*.xml")):
        doc = etree.parse(str(path))
        for st in doc.iterfind(".//c:Stmt", ns):
            acct = st.findtext("c:Acct/c:Id/c:IBAN", namespaces=ns)
            bals = {}
            for b in st.iterfind("c:Bal", ns):
                v = D(b.findtext("c:Amt", namespaces=ns))
                bals[b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=ns)] = (
                    v if b.findtext("c:CdtDbtInd", namespaces=ns) == "CRDT" else -v
                )
            day = st.findtext("c:Bal/c:Dt/c:Dt", namespaces=ns)
            net = ZERO
            for n in st.iterfind("c:Ntry", ns):
                a = n.findtext("c:Amt", namespaces=ns)
                if not money_re.match(a):
                    problems.append(f"{path.name}: amount {a}")
                net += D(a) if n.findtext("c:CdtDbtInd", namespaces=ns) == "CRDT" else -D(a)
                txs = n.findall("c:NtryDtls/c:TxDtls", ns)
                refs = (
                    [t.findtext("c:Refs/c:AcctSvcrRef", namespaces=ns) for t in txs]
                    if len(txs) > 1
                    else [n.findtext("c:AcctSvcrRef", namespaces=ns)]
                )
                for r in refs:
                    if not r:
                        problems.append(f"{path.name}: a line without AcctSvcrRef")
                    elif r in seen_refs:
                        problems.append(f"ref {r} twice ({seen_refs[r]}, {path.name})")
                    seen_refs[r] = path.name
            if bals["OPBD"] + net != bals["CLBD"]:
                problems.append(f"{path.name}: OPBD {bals['OPBD']} + {net} != CLBD {bals['CLBD']}")
            if acct in last_close and last_close[acct][1] != bals["OPBD"]:
                problems.append(f"{path.name}: opening {bals['OPBD']} != previous closing {last_close[acct]}")
            last_close[acct] = (day, bals["CLBD"])
        for ib in doc.iterfind(".//c:IBAN", ns):
            iban_count += 1
            if not iban_valid(ib.text):
                problems.append(f"{path.name}: invalid IBAN {ib.text}")
    ns4 = {"c": NS054}
    for path in sorted((out / "input" / "bank").glob("camt054_*.xml")):
        for n in etree.parse(str(path)).iterfind(".//c:Ntry", ns4):
            r = n.findtext("c:AcctSvcrRef", namespaces=ns4)
            if r not in seen_refs:
                problems.append(f"{path.name}: {r} is not booked in any camt.053")
    lab_refs = [line["ref"] for line in labels["lines"]]
    if len(lab_refs) != len(set(lab_refs)):
        problems.append("a line is labeled twice")
    if set(lab_refs) != set(seen_refs):
        problems.append(
            f"labels vs statements: {len(set(seen_refs) - set(lab_refs))} unlabeled, "
            f"{len(set(lab_refs) - set(seen_refs))} labels without a line"
        )
    end_t = at(END, 23, 59, 59)
    for line in labels["lines"]:
        if line["expect"] != "match":
            continue
        if any(i not in by_iid for i in line["invoice_ids"]):
            problems.append(f"{line['ref']}: unknown invoice id")
            continue
        docs = [by_iid[i] for i in line["invoice_ids"]]
        bday = dt.date.fromisoformat(line["booking_date"])
        for d in docs:
            if d.dup_of is not None:
                problems.append(f"{line['ref']}: matched to a duplicate {d.iid}")
            if d.post is None or d.post > end_t:
                problems.append(f"{line['ref']}: {d.iid} never posted")
            elif d.held:
                if not d.post.date() > bday:
                    problems.append(f"{line['ref']}: held invoice {d.iid} posted before its payment")
            elif d.post.date() > bday:
                problems.append(f"{line['ref']}: paid {bday} before posting {d.post.date()} ({line['class']})")
        if line["credit_debit"] == "CRDT" and line["class"] != "credit_note_refund":
            problems.append(f"{line['ref']}: a credit matched to invoices")
        inv = sum((d.gross for d in docs if d.kind == "invoice"), ZERO)
        cn = sum((d.gross for d in docs if d.kind == "credit_note"), ZERO)
        u = pl.unit_by_ref[line["ref"]]
        tx = u if isinstance(u, Tx) else (u.txs[0] if len(u.txs) == 1 else None)
        principal = D(line["amount"])
        if tx is not None and tx.instd is not None:
            principal = tx.instd[0]
        elif tx is not None and tx.amount is not None:
            principal = tx.amount
        s = line["settles"]
        due = inv - cn if line["class"] != "credit_note_refund" else cn
        if s == "in_full" and principal != due:
            problems.append(f"{line['ref']}: in_full but {principal} != {due} ({line['class']})")
        elif s == "with_discount":
            ok = any(
                principal == sum((d.gross - (d.gross * p).quantize(CENT, ROUND_HALF_UP) for d in docs), ZERO)
                for p in (D("0.02"), D("0.03"))
            )
            if not ok:
                problems.append(f"{line['ref']}: discount amount {principal} does not fit {inv}")
        elif s == "short" and not (ZERO < due - principal <= D("10")):
            problems.append(f"{line['ref']}: short by {due - principal}")
        elif s == "partly" and not (ZERO < principal < due):
            problems.append(f"{line['ref']}: partly {principal} of {due}")
        elif s == "net_of_credit_note" and (principal != inv - cn or cn <= 0):
            problems.append(f"{line['ref']}: net {principal} != {inv} - {cn}")
        elif s == "over" and not (ZERO < principal - due <= D("50")):
            problems.append(f"{line['ref']}: over by {principal - due}")
    for line in labels["lines"]:
        if line["expect"] == "return" and line["returns"] not in seen_refs:
            problems.append(f"{line['ref']}: returns an unknown line")
    for v in pl.vendors:
        for a, _b in v.accounts:
            if not iban_valid(a):
                problems.append(f"vendor {v.vid}: invalid IBAN {a}")
    for b in batches:
        for ins in b["instructions"]:
            if not iban_valid(ins["creditor_iban"]):
                problems.append(f"batch {b['batch_id']}: invalid IBAN")
    for d in fac.docs:
        assert d.capture is not None  # plan_capture has run on every document
        if d.capture.date() < d.inv_date:
            problems.append(f"{d.iid}: captured before its date")
        if d.rf and not rf_valid(d.rf):
            problems.append(f"{d.iid}: bad RF {d.rf}")
        if d.post is not None and not d.held and not (ZERO <= D((d.post - d.capture).total_seconds()) <= 5 * 86400):
            problems.append(f"{d.iid}: posted {d.post} not within 5 days of capture {d.capture}")
        if d.approve is not None and d.post is not None and d.approve >= d.post:
            problems.append(f"{d.iid}: approved after posting")
        if d.approve is not None and d.approve <= d.capture:
            problems.append(f"{d.iid}: approved before capture")
        if d.gross != d.net + d.tax:
            problems.append(f"{d.iid}: gross != net + tax")
    emitted = set()
    for line in (out / "input" / "invoices.jsonl").read_bytes().splitlines():
        p = orjson.loads(line)["payload"]
        emitted.add(p["invoice_id"])
        for k in ("net_amount", "tax_amount", "gross_amount"):
            if not money_re.match(p[k]):
                problems.append(f"{p['invoice_id']}: {k} {p[k]}")
    named = {d["invoice_id"] for d in labels["duplicates"]} | {d["original_invoice_id"] for d in labels["duplicates"]}
    named |= {i for n in labels["duplicate_negatives"] for i in n["invoice_ids"]}
    named |= {c["invoice_id"] for c in labels["credit_notes"]}
    for line in labels["lines"]:
        named |= set(line.get("invoice_ids", [])) | set(line.get("candidates", [])) | set(line.get("reopens", []))
    fs = labels["final_state"]
    named |= set(fs["paid"]) | set(fs["open"]) | set(fs["cleared_by_credit_note"])
    if named - emitted:
        problems.append(
            f"{len(named - emitted)} labeled invoice ids never captured, e.g. {sorted(named - emitted)[:3]}"
        )
    for d in fac.docs:  # a document is settled at most once at a time
        ivs = getattr(d, "closed_iv", [])
        if sum(1 for iv in ivs if iv[1] is None) > 1:
            problems.append(f"{d.iid}: settled twice")
    pl.iban_count = iban_count
    return problems


def build(out: Path, seed: int, n: int, quiet: bool = False) -> dict:
    t0 = time.time()
    rng = random.Random(seed)
    f = n / DEFAULT_INVOICES
    comps = make_companies(rng)
    vendors = make_vendors(rng, max(120, round(320 * f**0.5)))
    fac, st = build_documents(rng, comps, vendors, n, f)
    assign_numbers(rng, fac, vendors)
    finish_documents(rng, comps, fac, vendors, st, f)
    for d in sorted(fac.docs, key=lambda d: d.key):
        plan_capture(rng, d, stuck_ok=d.tags == {"regular"})
    make_duplicates(rng, fac, f)
    pl = Planner(rng, comps, vendors, fac, st, f)
    pl.pending_run = []
    for step in (
        pl.plan_returns,
        pl.plan_held,
        pl.plan_fx,
        pl.plan_discount,
        pl.plan_charges,
        pl.plan_cn_netting,
        pl.plan_cn_refund,
        pl.plan_structured,
        pl.plan_rf,
        pl.plan_name_only,
        pl.plan_splits,
        pl.plan_lumps,
        pl.plan_multi,
        pl.plan_number_variants,
        pl.plan_number_split,
        pl.plan_cheques,
        pl.plan_unknown,
        pl.plan_structures,
    ):
        step()
    pl.plan_default(p_run=0.5)
    batches = pl.build_runs()
    pl.plan_non_invoice()
    cands = sorted(
        [
            e
            for e in pl.entries
            if e.cdi == "DBIT"
            and len(e.txs) == 1
            and e.label is not None
            and e.kind in ("sct_out", "urgent_out", "xb_out", "dd_out", "stdo")
        ],
        key=lambda e: e.order,
    )
    for e in rng.sample(cands, min(len(cands), scaled(40, f))):
        e.in054 = True
    stmts = balance_and_refs(pl)
    assign_ids(pl, fac)
    downgraded = check_amount_only(pl)

    if out.exists():
        shutil.rmtree(out)
    inp = out / "input"
    bank = inp / "bank"
    bank.mkdir(parents=True)
    events_out(pl, fac, batches, inp)
    write_statements(pl, stmts, bank, rng)

    pl.unit_by_ref = {}
    lines = []
    for (_c, _d), s in sorted(stmts.items()):
        for e in s["entries"]:
            for u in e.units():
                pl.unit_by_ref[u.ref] = u
                lines.append(line_label(u, e))
    dups = sorted([d for d in fac.docs if d.dup_of is not None], key=lambda d: d.iid)
    labels = {
        "version": 1,
        "seed": seed,
        "invoices_arg": n,
        "window": {"first_booking_date": BDAYS[0].isoformat(), "last_booking_date": END.isoformat()},
        "duplicates": [
            {
                "invoice_id": d.iid,
                "original_invoice_id": d.dup_of.iid,
                "class": d.dup_class,
                **({"variants": d.variants} if d.dup_class == "combination" else {}),
            }
            for d in dups
        ],
        "duplicate_negatives": negatives(st, fac),
        "credit_notes": [
            {"invoice_id": d.iid, "signed": d.signed}
            for d in sorted(fac.docs, key=lambda d: d.iid)
            if d.kind == "credit_note"
        ],
        "lines": lines,
        "final_state": final_state(pl, fac),
    }
    (out / "labels.json").write_bytes(orjson.dumps(labels, option=orjson.OPT_INDENT_2))
    problems = self_check(out, labels, fac, pl, batches)
    stats = summarize(labels, fac, downgraded, time.time() - t0)
    stats["problems"] = problems
    if not quiet:
        print_stats(stats)
    if problems:
        for p in problems[:40]:
            print("SELF-CHECK:", p, file=sys.stderr)
        raise SystemExit(f"self-check failed: {len(problems)} problem(s)")
    return stats


def summarize(labels: dict, fac: DocFactory, downgraded: int, seconds: float) -> dict:
    from collections import Counter

    lines = labels["lines"]
    return {
        "seconds": round(seconds, 1),
        "invoice_events": sum(1 for d in fac.docs if capture_of(d) <= at(END, 23, 59, 59)),
        "originals": sum(1 for d in fac.docs if d.dup_of is None),
        "duplicates": len(labels["duplicates"]),
        "lines": len(lines),
        "line_classes": dict(sorted(Counter(line["class"] for line in lines).items())),
        "line_expect": dict(sorted(Counter(line["expect"] for line in lines).items())),
        "duplicate_classes": dict(sorted(Counter(d["class"] for d in labels["duplicates"]).items())),
        "negative_classes": dict(sorted(Counter(d["class"] for d in labels["duplicate_negatives"]).items())),
        "credit_notes": len(labels["credit_notes"]),
        "signed_credit_notes": sum(1 for c in labels["credit_notes"] if c["signed"]),
        "final_paid": len(labels["final_state"]["paid"]),
        "final_open": len(labels["final_state"]["open"]),
        "amount_only_downgraded_to_review": downgraded,
        "statement_files": len(BDAYS) * 3,
    }


def print_stats(s: dict) -> None:
    print(orjson.dumps({k: v for k, v in s.items() if k != "problems"}, option=orjson.OPT_INDENT_2).decode())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--invoices", type=int, default=DEFAULT_INVOICES, help="original supplier documents (about)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    build(a.out, a.seed, a.invoices, a.quiet)
    return 0


if __name__ == "__main__":
    sys.exit(main())
