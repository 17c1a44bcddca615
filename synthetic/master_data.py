"""Company codes with their house banks, and the vendor master (masked names, valid-checksum IBANs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from itertools import accumulate
from random import Random

from schwifty import IBAN

from .names import NUMBER_STYLES, format_number, number_prefix, tax_id, vendor_name


@dataclass(frozen=True, slots=True)
class CompanyCode:
    code: str
    country: str
    currency: str
    erp: str  # source_system of its postings, POs, goods receipts and payment runs
    bank: str  # source_system of its pain.002 and camt.054
    tax_rate: int  # percent, the standard VAT rate of the country
    share: float  # of the group's invoice volume
    debtor_iban: str = ""


# Real bank codes (public routing data, not people) make schwifty derive a BIC; account numbers are random.
_BANKS: dict[str, tuple[tuple[str, str], ...]] = {
    "DE": (("37040044", ""), ("50010517", ""), ("10010010", ""), ("70020270", ""), ("60050101", "")),
    "FR": (("30004", "00823"), ("30003", "01234"), ("20041", "01005"), ("30002", "00550")),
    "GB": (("NWBK", "601613"), ("BARC", "200000"), ("LOYD", "309634"), ("HBUK", "401276")),
    "NL": (("ABNA", ""), ("INGB", ""), ("RABO", ""), ("TRIO", "")),
    "AT": (("12000", ""), ("20111", ""), ("32000", ""), ("60000", "")),
}
_ACCOUNT_DIGITS = {"DE": 10, "FR": 11, "GB": 8, "NL": 10, "AT": 11}


def make_iban(rng: Random, country: str) -> str:
    bank_code, branch_code = rng.choice(_BANKS[country])
    digits = _ACCOUNT_DIGITS[country]
    account = f"{rng.randrange(10 ** (digits - 1), 10**digits)}"
    return str(IBAN.generate(country, bank_code=bank_code, account_code=account, branch_code=branch_code))


def bic_of(iban: str) -> str | None:
    bic = IBAN(iban).bic
    return str(bic) if bic is not None else None


def company_codes(rng: Random) -> tuple[CompanyCode, ...]:
    plain = (
        CompanyCode("1000", "DE", "EUR", "sap-s4hana", "house-bank-de", 19, 0.34),
        CompanyCode("2000", "FR", "EUR", "oracle-erp-cloud", "house-bank-fr", 20, 0.20),
        CompanyCode("3000", "GB", "GBP", "dynamics-365", "house-bank-gb", 20, 0.20),
        CompanyCode("4000", "NL", "EUR", "netsuite", "house-bank-nl", 21, 0.15),
        CompanyCode("5000", "AT", "EUR", "infor", "house-bank-at", 20, 0.11),
    )
    # Each company code pays from exactly one house-bank account: settlements are booked on it.
    return tuple(replace(c, debtor_iban=make_iban(rng, c.country)) for c in plain)


@dataclass(slots=True)
class VendorProfile:
    vendor_id: str
    name: str
    country: str
    company: CompanyCode
    ibans: tuple[str, ...]
    tax_id: str
    active: bool = True
    style: str = "dashed"
    prefix: str = "IN"
    next_sequence: int = 1
    # Normalised numbers already used: the duplicate detector's exact tier keys on them.
    used_numbers: dict[str, None] = field(default_factory=dict)

    def payload(self) -> dict[str, object]:
        accounts = []
        for iban in self.ibans:
            bic = bic_of(iban)
            accounts.append({"iban": iban, "bic": bic} if bic else {"iban": iban})
        return {
            "vendor_id": self.vendor_id,
            "name": self.name,
            "tax_id": self.tax_id,
            "country": self.country,
            "bank_accounts": accounts,
            "active": self.active,
        }


@dataclass(slots=True)
class VendorMaster:
    companies: tuple[CompanyCode, ...]
    active: list[VendorProfile]
    landlords: list[VendorProfile]  # active too, but they only bill rent
    inactive: list[VendorProfile]
    cum_weights: list[float]  # over `active`, for rng.choices

    @property
    def all(self) -> list[VendorProfile]:
        return [*self.active, *self.landlords, *self.inactive]

    def known_ibans(self) -> dict[str, None]:
        house = {company.debtor_iban: None for company in self.companies}
        return {iban: None for vendor in self.all for iban in vendor.ibans} | house

    def unknown_vendor_id(self, n: int) -> str:
        # Outside the master's numbering: an id typed from a supplier letterhead, never onboarded.
        return f"V9{n:05d}"


def _vendor(
    rng: Random, number: int, companies: tuple[CompanyCode, ...], company_weights: list[float], landlord: bool = False
) -> VendorProfile:
    company = rng.choices(companies, cum_weights=company_weights)[0]
    # Most suppliers bill from the company code's own country; some cross-border within the group's markets.
    local = landlord or rng.random() < 0.8
    country = company.country if local else rng.choice(("DE", "FR", "GB", "NL", "AT"))
    name = vendor_name(rng, country, landlord)
    accounts = 2 if rng.random() < 0.15 else 1
    profile = VendorProfile(
        vendor_id=f"V{number:05d}",
        name=name,
        country=country,
        company=company,
        ibans=tuple(make_iban(rng, country) for _ in range(accounts)),
        tax_id=tax_id(rng, country),
        style=rng.choice(NUMBER_STYLES),
        prefix=number_prefix(name),
        next_sequence=rng.randrange(1, 5000),
    )
    return profile


def build_vendor_master(rng: Random, active_count: int, landlord_count: int, inactive_count: int) -> VendorMaster:
    companies = company_codes(rng)
    company_weights = list(accumulate(c.share for c in companies))
    number = iter(range(1, active_count + landlord_count + inactive_count + 1))
    active = [_vendor(rng, next(number), companies, company_weights) for _ in range(active_count)]
    landlords = [_vendor(rng, next(number), companies, company_weights, landlord=True) for _ in range(landlord_count)]
    inactive = [_vendor(rng, next(number), companies, company_weights) for _ in range(inactive_count)]
    for profile in inactive:
        profile.active = False
    # A few suppliers send most invoices (Zipf-like), as in any real AP ledger.
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(active_count)]
    rng.shuffle(weights)
    return VendorMaster(companies, active, landlords, inactive, list(accumulate(weights)))


def next_invoice_number(vendor: VendorProfile, rng: Random, year: int, normalize: Callable[[str], str]) -> str:
    """The vendor's next supplier invoice number, unique per vendor once normalised."""
    while True:
        vendor.next_sequence += 1 if rng.random() < 0.7 else rng.randrange(2, 40)
        number = format_number(vendor.style, vendor.prefix, year, vendor.next_sequence)
        key = normalize(number)
        if key not in vendor.used_numbers:
            vendor.used_numbers[key] = None
            return number
