"""Masked master data: vendor names from word lists, synthetic tax ids, supplier invoice number styles.

Names combine nature words with trade words and a legal form, so they read like suppliers without
naming a real person or company.
"""

from __future__ import annotations

from random import Random

# Tree, bird, weather and landscape words: no surnames, so no real person hides in a vendor name.
_NATURE = (
    "Nordwind",
    "Alder",
    "Finch",
    "Birch",
    "Heron",
    "Juniper",
    "Kestrel",
    "Larch",
    "Maple",
    "Osprey",
    "Rowan",
    "Sable",
    "Thistle",
    "Willow",
    "Wren",
    "Falkenhorst",
    "Eichenau",
    "Lindenhof",
    "Tannenberg",
    "Lerchenfeld",
    "Bergquell",
    "Sonnenfeld",
    "Morgenrot",
    "Silberbach",
    "Kranich",
    "Ostwind",
    "Seeblick",
    "Aubépine",
    "Bruyère",
    "Châtaigne",
    "Hirondelle",
    "Mistral",
    "Peuplier",
    "Sureau",
    "Tilleul",
    "Ajonc",
    "Blackthorn",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Fernhill",
    "Glenmoor",
    "Hawthorn",
    "Ironbark",
    "Kingfisher",
    "Lapwing",
    "Moorland",
    "Northgate",
    "Oakridge",
    "Pinewood",
    "Quillon",
    "Redstart",
    "Saltmarsh",
    "Tidewater",
    "Upland",
    "Vale",
    "Westerly",
    "Yarrow",
    "Duinroos",
    "Meeuw",
    "Polderwind",
    "Zeewolde",
    "Berghorn",
    "Gamsjoch",
    "Edelweiß",
    "Almrausch",
)
_SECOND = (
    "Finch",
    "Heron",
    "Lark",
    "Otter",
    "Badger",
    "Stone",
    "Brook",
    "Field",
    "Ridge",
    "Hollow",
    "Marsh",
    "Wood",
    "Gate",
    "Mill",
    "Forge",
    "Harbour",
    "Crest",
)
_TRADES: dict[str, tuple[str, ...]] = {
    "DE": (
        "Logistik",
        "Metallbau",
        "Verpackung",
        "Elektrotechnik",
        "Bürobedarf",
        "Gebäudeservice",
        "Kältetechnik",
        "Maschinenbau",
        "Industriebedarf",
        "Spedition",
        "Druckerei",
        "Anlagenbau",
    ),
    "AT": ("Logistik", "Holzbau", "Elektrotechnik", "Gebäudereinigung", "Stahlhandel", "Transporte"),
    "FR": (
        "Emballages",
        "Logistique",
        "Services Industriels",
        "Fournitures de Bureau",
        "Transports",
        "Maintenance",
        "Électricité",
        "Imprimerie",
    ),
    "GB": (
        "Supplies",
        "Logistics",
        "Facilities",
        "Components",
        "Packaging",
        "Engineering",
        "Office Solutions",
        "Freight",
        "Fabrication",
        "Cleaning Services",
    ),
    "NL": ("Techniek", "Logistiek", "Verpakkingen", "Installatietechniek", "Transport", "Kantoorartikelen"),
}
_LEGAL_FORMS: dict[str, tuple[str, ...]] = {
    "DE": ("GmbH", "GmbH", "AG", "KG", "GmbH & Co. KG"),
    "AT": ("GmbH", "GmbH", "AG", "OG"),
    "FR": ("SAS", "SARL", "SA"),
    "GB": ("Ltd", "Ltd", "PLC", "LLP"),
    "NL": ("B.V.", "B.V.", "N.V."),
}
_LANDLORD_WORDS = ("Immobilien", "Property", "Estates", "Gewerbepark", "Real Estate")


def vendor_name(rng: Random, country: str, landlord: bool = False) -> str:
    first = rng.choice(_NATURE)
    if rng.random() < 0.3:
        # "Alder & Finch" style partnerships.
        first = f"{first} & {rng.choice(_SECOND)}"
    trade = rng.choice(_LANDLORD_WORDS) if landlord else rng.choice(_TRADES[country])
    return f"{first} {trade} {rng.choice(_LEGAL_FORMS[country])}"


def tax_id(rng: Random, country: str) -> str:
    """A VAT id in the country's shape; random digits, so it belongs to nobody."""
    digits = f"{rng.randrange(10**8, 10**9)}"
    if country == "FR":
        return f"FR{rng.randrange(10, 100)}{digits}"
    if country == "NL":
        return f"NL{digits}B01"
    if country == "AT":
        return f"ATU{digits[:8]}"
    return f"{country}{digits}"


def number_prefix(name: str) -> str:
    """Supplier invoice prefix from the vendor's initials, e.g. Nordwind Logistik -> NL."""
    initials = "".join(word[0] for word in name.replace("&", " ").split()[:2] if word[0].isalpha())
    return initials.upper().encode("ascii", "ignore").decode() or "IN"


# Each vendor numbers its invoices one way; the AP clerk sees them exactly as the supplier wrote them.
NUMBER_STYLES = ("dashed", "compact", "slashed", "numeric", "spaced")


def format_number(style: str, prefix: str, year: int, sequence: int) -> str:
    if style == "dashed":
        return f"{prefix}-{year}-{sequence:05d}"
    if style == "compact":
        return f"{prefix}{year}{sequence:06d}"
    if style == "slashed":
        return f"RE {year}/{sequence}"
    if style == "numeric":
        return f"{sequence:08d}"
    return f"INV {sequence:06d}"
