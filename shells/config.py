"""One validated configuration file, read by every command (`--config FILE` or `$RECON_CONFIG`).

TOML or YAML (by extension). Every key has a default that works without any file, so `recon demo` needs
none; `recon config example` writes the defaults as a commented file and `recon config check` names the
key of every error. Environment variables override single keys: `RECON_WINDOWS__ACK=PT12H`.

Secrets never live in it: a section that needs one (a database password, an ERP client secret) names
an environment variable or a file holding it, never the value.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
    YamlConfigSettingsSource,
)
from reconstream.matchers.bank_codes import CodeRule, LineClass, from_config
from reconstream.matchers.duplicates import DuplicatePolicy
from reconstream.matchers.payment_matching import MatchPolicy
from reconstream.matchers.three_way import AmountTolerance
from reconstream.models import limits
from reconstream.models.accounts import AccountRef, AccountScheme, compact, looks_like_iban
from reconstream.models.errors import ReconError
from reconstream.models.events import Stream
from reconstream.models.exceptions import OwnerQueue, SeverityPolicy
from reconstream.models.money import MINOR_UNITS
from reconstream.models.outputs import RECORD_STREAMS, OutputStream
from reconstream.streams import Settings

from .audit import AuditKey, AuditKeyError
from .formats.canonical import IngestOptions

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

    from .intake.settings import IntakeSettings

ENV_VAR = "RECON_CONFIG"
EXAMPLE = Path(__file__).with_name("config.example.toml")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Windows(Section):
    """Event-time windows of the timers."""

    ack: timedelta = Field(default=timedelta(hours=24), description="pain.002 expected within this of sending")
    settlement: timedelta = Field(default=timedelta(days=5), description="booked on the account within this")
    posting_sla: timedelta = Field(default=timedelta(days=3), description="posted in the ERP within this of approval")
    posting_hold: timedelta = Field(default=timedelta(days=10), description="a line paying an unposted invoice waits")
    clock_skew: timedelta = Field(
        default=timedelta(days=1),
        gt=timedelta(0),
        description="an event dated more than this after its own ingest_time is refused",
    )


_BOUNDS = limits.Limits()  # the defaults are the model's own


class Limits(Section):
    """The bounds of every amount, quantity and time read (models/limits.py): beyond them nothing is exact."""

    max_amount: Decimal = Field(
        default=_BOUNDS.max_amount, gt=0, le=Decimal("1E+18"), description="an amount this large or larger is refused"
    )
    max_quantity: Decimal = Field(
        default=_BOUNDS.max_quantity,
        gt=0,
        le=Decimal("1E+12"),
        description="a quantity this large or larger is refused",
    )
    earliest: AwareDatetime = Field(default=_BOUNDS.earliest, description="earlier times are refused")
    latest: AwareDatetime = Field(
        default=_BOUNDS.latest, le=datetime(9000, 1, 1, tzinfo=UTC), description="this time and later are refused"
    )

    def bounds(self) -> limits.Limits:
        return limits.Limits(self.max_amount, self.max_quantity, self.earliest, self.latest)


class Retention(Section):
    """How long applied ids are remembered (event time): what bounds the idempotency state."""

    event_ids: timedelta = Field(
        default=timedelta(days=90), gt=timedelta(0), description="an event id seen again within this changes nothing"
    )
    bank_entries: timedelta = Field(
        default=timedelta(days=400),
        gt=timedelta(0),
        description="a bank line in a later or re-sent statement is booked once",
    )
    paid_invoices: timedelta = Field(
        default=timedelta(days=400),
        gt=timedelta(0),
        description="a paid invoice stays (duplicates of it caught) this long",
    )


class ThreeWay(Section):
    share: Decimal = Field(default=Decimal("0.01"), ge=0, le=1)
    absolute: Decimal = Field(default=Decimal("1.00"), ge=0)


class Duplicates(Section):
    amount_tolerance_abs: Decimal = Field(default=Decimal("1.00"), ge=0)
    amount_tolerance_rel: Decimal = Field(default=Decimal("0.005"), ge=0, le=1)
    near_days: int = Field(default=10, ge=0)
    typo_days: int = Field(default=3, ge=0)


class Matching(Section):
    auto_match_threshold: int = Field(default=90, ge=0, le=100)
    short_tolerance_abs: Decimal = Field(default=Decimal("25.00"), ge=0)
    short_tolerance_rel: Decimal = Field(default=Decimal("0.01"), ge=0, le=1)
    discount_percents: tuple[Decimal, ...] = (Decimal(2), Decimal(3))
    discount_days: int = Field(default=14, ge=0)
    discount_grace_days: int = Field(default=3, ge=0)
    instruction_date_window_days: int = Field(default=3, ge=0)
    max_invoices_per_payment: int = Field(default=5, ge=1, le=20)
    subset_pool: int = Field(default=30, ge=1, le=200)
    subset_budget: int = Field(default=20_000, ge=1)
    name_similarity: int = Field(default=90, ge=0, le=100)
    over_tolerance_abs: Decimal = Field(default=Decimal("50.00"), ge=0)
    short_write_off: bool = False


class Severity(Section):
    critical_from: Decimal = Field(default=Decimal(100_000), ge=0)
    high_from: Decimal = Field(default=Decimal(10_000), ge=0)
    medium_from: Decimal = Field(default=Decimal(1_000), ge=0)
    critical_within: timedelta = timedelta(hours=4)
    high_within: timedelta = timedelta(days=1)
    medium_within: timedelta = timedelta(days=3)
    low_within: timedelta = timedelta(days=5)

    @model_validator(mode="after")
    def _ordered(self) -> Severity:
        if not self.critical_from >= self.high_from >= self.medium_from:
            raise ValueError("critical_from >= high_from >= medium_from must hold")
        return self


class Account(Section):
    """A house bank account: how banks name it, and whose books and currency it belongs to."""

    id: str = Field(min_length=1, description="the account id as the bank writes it (IBAN or domestic number)")
    scheme: AccountScheme | None = Field(default=None, description="default: iban when IBAN-shaped, else bban")
    bank_id: str | None = Field(default=None, description="routing number, sort code, bank code or BIC")
    iban: str | None = Field(default=None, description="the same account's IBAN, so files naming it either way meet")
    company_code: str = Field(min_length=1)
    currency: str
    name: str = ""

    @model_validator(mode="after")
    def _valid(self) -> Account:
        if self.currency not in MINOR_UNITS:
            raise ValueError(f"currency: unknown ISO 4217 currency {self.currency!r}")
        self.as_written()
        if self.iban is not None:
            AccountRef(scheme=AccountScheme.IBAN, id=self.iban)
        return self

    def as_written(self) -> AccountRef:
        scheme = self.scheme or (AccountScheme.IBAN if looks_like_iban(self.id) else AccountScheme.BBAN)
        return AccountRef(scheme=scheme, id=self.id, bank_id=self.bank_id)

    def canonical(self) -> AccountRef:
        """The one reference positions are kept under: the IBAN when known, else the account as written."""
        return AccountRef(scheme=AccountScheme.IBAN, id=self.iban) if self.iban else self.as_written()


class Formats(Section):
    """Lookups bank and AP files cannot carry: they speak the bank's and the supplier's ids, not ours."""

    vendors: dict[str, str] = Field(
        default_factory=dict, description="supplier id (party id, VAT, endpoint) -> vendor_id"
    )
    companies: dict[str, str] = Field(default_factory=dict, description="buyer id -> company_code")
    default_company_code: str | None = Field(default=None, description="company code of UBL invoices of unknown buyers")

    @model_validator(mode="after")
    def _blank_is_none(self) -> Formats:
        if self.default_company_code == "":
            object.__setattr__(self, "default_company_code", None)
        return self

    csv_mapping: Path | None = Field(
        default=None, description="CSV/JSON column mapping; the bundled AP template if unset"
    )
    max_document_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)


class BankCodeRule(Section):
    """A bank transaction code (ISO domain/family/subfamily, or a bank's proprietary code) and what it means."""

    domain: str | None = None
    family: str | None = None
    subfamily: str | None = None
    proprietary: str | None = Field(default=None, description="the bank's own code, e.g. '116' or 'NTRF+116+9310'")
    issuer: str | None = Field(
        default=None, description="whose code: DK (a German GVC), SWIFT (an MT940 type without N), BAI, or as written"
    )
    purpose: str | None = Field(default=None, description="ISO purpose code, e.g. SALA, TAXS")
    credit_debit: Literal["CRDT", "DBIT"] | None = Field(default=None, description="holds in this direction only")
    means: LineClass

    @model_validator(mode="after")
    def _says_something(self) -> BankCodeRule:
        self.rule()  # the core's own validation, with its own words
        return self

    def rule(self) -> CodeRule:
        return from_config(
            self.domain,
            self.family,
            self.subfamily,
            self.proprietary,
            self.purpose,
            self.means.value,
            issuer=self.issuer,
            credit_debit=self.credit_debit,
        )


def _named_once(what: str, env_key: str, env: str | None, file_key: str, file: Path | None) -> None:
    """A secret is read from an environment variable or from a file: naming both leaves which one unclear."""
    if env and file is not None:
        raise ValueError(f"{env_key}: name {what} once, in {env_key} or in {file_key}")


class Database(Section):
    """The case store, where exceptions are worked: a SQLite file in the run's output folder unless a URL
    names another database (PostgreSQL: `postgresql+psycopg://user@host:5432/name`)."""

    enabled: bool = Field(default=True, description="project the run's exceptions into the case store")
    url: str | None = Field(default=None, description="SQLAlchemy URL without the password; default <out>/cases.sqlite")
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    password_file: Path | None = Field(default=None, description="file holding the password")

    @model_validator(mode="after")
    def _one_password_source(self) -> Database:
        _named_once("the password", "password_env", self.password_env, "password_file", self.password_file)
        return self


class Auth(Section):
    """Who may use the web service. Without any of it `recon serve` listens on loopback only."""

    api_keys_file: Path | None = Field(default=None, description="TOML file of API keys by SHA-256 (recon keys add)")
    oidc_issuer: str | None = Field(default=None, description="issuer (iss) of the OIDC access tokens accepted")
    oidc_audience: str | None = Field(default=None, description="audience (aud) the tokens must name")
    oidc_jwks_url: str | None = Field(default=None, description="the issuer's JWKS endpoint (its signing keys)")
    role_claim: str = Field(default="roles", description="claim holding the reconstream role (a string or a list)")
    name_claim: str = Field(default="preferred_username", description="claim naming the person (else sub)")

    @model_validator(mode="after")
    def _oidc_whole(self) -> Auth:
        given = [self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url]
        if any(given) and not all(given):
            raise ValueError("oidc_issuer: OIDC needs oidc_issuer, oidc_audience and oidc_jwks_url together")
        return self

    @property
    def configured(self) -> bool:
        return self.api_keys_file is not None or self.oidc_issuer is not None


# The values, not the members: the config holds plain names, and an error lists them as they are written.
if TYPE_CHECKING:  # the names are known at run time only, from the streams
    OutputStreamName = str
else:
    OutputStreamName = Literal[tuple(stream.value for stream in RECORD_STREAMS)]


class Webhook(Section):
    """A receiver of signed webhooks (HMAC-SHA256 over timestamp and body, `Recon-Signature`)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="names the receiver in the outbox")
    url: str = Field(pattern=r"^https?://", description="where deliveries are POSTed")
    streams: tuple[OutputStreamName, ...] = Field(default=(OutputStream.EXCEPTIONS.value,), min_length=1)
    owner_queues: tuple[OwnerQueue, ...] = Field(default=(), description="only these queues; all if empty")
    secret_env: str | None = Field(default=None, description="environment variable holding the signing secret")
    secret_file: Path | None = Field(default=None, description="file holding the signing secret")
    max_attempts: int = Field(default=8, ge=1, le=100, description="then the delivery is dead-lettered")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    max_backoff_seconds: float = Field(default=300.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _one_secret(self) -> Webhook:
        if bool(self.secret_env) == (self.secret_file is not None):
            raise ValueError("secret_env: name the signing secret once, in secret_env or in secret_file")
        return self


class Delivery(Section):
    drain_seconds: float = Field(default=30.0, ge=0, description="at the end of a run, keep delivering this long")


class Audit(Section):
    """The audit log's key and anchors (shells/audit.py). Without a key the chain is plain SHA-256, which
    anyone who can write the log can recompute."""

    key_env: str | None = Field(default=None, description="environment variable holding the HMAC key (32+ bytes)")
    key_file: Path | None = Field(default=None, description="file holding the HMAC key (32+ bytes)")
    anchors: Path | None = Field(
        default=None,
        description="file each checkpoint appends the audit head and count to, kept where the run's writers "
        "cannot rewrite it; default <out>.audit-anchors.jsonl beside the output folder",
    )

    @model_validator(mode="after")
    def _one_key_source(self) -> Audit:
        _named_once("the audit key", "key_env", self.key_env, "key_file", self.key_file)
        return self


ErpKind = Literal["sap", "oracle", "d365", "netsuite", "infor"]


class ErpTarget(Section):
    """One ERP instance the posting service books invoices in, the company codes it keeps, its credentials
    (a JSON object in an environment variable or a file, never here) and its limits."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="names the ERP in the queue and metrics")
    kind: ErpKind
    base_url: str = Field(pattern=r"^https?://", description="where its API answers")
    company_codes: tuple[str, ...] = Field(min_length=1, description="invoices of these company codes post here")
    credentials_env: str | None = Field(default=None, description="environment variable holding a JSON object")
    credentials_file: Path | None = Field(default=None, description="JSON file (an Infor .ionapi file as it is)")
    options: dict[str, str] = Field(default_factory=dict, description="what one kind needs: token_url, tenant ...")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    concurrency: int = Field(default=4, ge=1, le=64, description="requests in flight at once, at most")
    rate_per_second: float = Field(default=20.0, gt=0, le=10_000)
    burst: int = Field(default=10, ge=1, le=10_000)
    max_attempts: int = Field(default=8, ge=1, le=100, description="then the posting times out (erp_timeout)")
    max_backoff_seconds: float = Field(default=60.0, gt=0, le=86_400)
    breaker_threshold: int = Field(default=5, ge=1, le=1000, description="ERP failures in a row that park postings")
    breaker_cool_off_seconds: float = Field(default=30.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _credentials_once(self) -> ErpTarget:
        _named_once(
            "the credentials", "credentials_env", self.credentials_env, "credentials_file", self.credentials_file
        )
        if not self.credentials_env and self.credentials_file is None:
            raise ValueError("credentials_env: every ERP needs credentials, in credentials_env or credentials_file")
        return self


class Posting(Section):
    """ERP posting beside a run (shells/erp/running.py)."""

    queue: Path | None = Field(default=None, description="the posting queue; default postings.sqlite in --out")
    drain_seconds: float = Field(default=120.0, ge=0, description="at the end of a run, keep posting this long")
    allowance: timedelta = Field(
        default=timedelta(hours=4),
        gt=timedelta(0),
        description="event time a run may pass an undecided posting's approval by before it waits for the verdict",
    )
    hold_seconds: float = Field(default=30.0, ge=0, description="wall time a run waits for verdicts, at most")


IntakeStreamName = Literal["vendors", "purchase_orders", "goods_receipts", "invoices", "invoice_status"]


class IntakePlatform(Section):
    """An AP platform that pushes events to the intake, signing each body with its own secret."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="what it sends as Recon-Platform")
    secret_env: str | None = Field(default=None, description="environment variable holding the signing secret")
    secret_file: Path | None = Field(default=None, description="file holding the signing secret")
    streams: tuple[IntakeStreamName, ...] = Field(default=("invoices", "invoice_status"), min_length=1)

    @model_validator(mode="after")
    def _one_secret(self) -> IntakePlatform:
        if bool(self.secret_env) == (self.secret_file is not None):
            raise ValueError("secret_env: name the signing secret once, in secret_env or in secret_file")
        return self


class Intake(Section):
    """The HTTP intake for AP platforms (shells/intake/), served by `recon serve` when `input_dir` is set."""

    input_dir: Path | None = Field(default=None, description="the folder `recon run --input` reads; off when unset")
    index_path: Path | None = Field(default=None, description="accepted event ids; default in input_dir")
    tolerance_seconds: int = Field(default=300, gt=0, le=3600, description="a signature this old is a replay")
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0, le=1 << 30)
    max_events: int = Field(default=1000, gt=0, le=100_000, description="events per request, at most")
    id_retention: timedelta = Field(default=timedelta(days=90), gt=timedelta(0))
    stamp_ingest_time: bool = True
    kafka_bootstrap: str | None = Field(
        default=None,
        description="when set, accepted events go to the input topics of this cluster instead of input_dir's "
        "files; input_dir then holds only the intake's id index and routes",
    )
    topic_prefix: str | None = Field(
        default=None, description="input topic prefix; default $RECON_TOPIC_PREFIX or recon, as the other commands"
    )
    # 6: shells/kafka/topics.py's DEFAULT_PARTITIONS, as `recon produce --partitions` (not imported: Kafka's client
    # would load with every command).
    partitions: int = Field(default=6, gt=0, le=10_000, description="per topic, when the intake creates the topics")
    routes_path: Path | None = Field(
        default=None, description="invoice and PO company codes the Kafka writer keys by; default in input_dir"
    )
    platforms: tuple[IntakePlatform, ...] = ()


class Kafka(Section):
    """The Kafka clients of every command that talks to the cluster: the security settings of librdkafka,
    passed through as written, how long a worker rides out an outage and waits for an idle topic. The two
    passwords librdkafka takes are named by an environment variable or a file; any other secret property is
    refused."""

    client: dict[str, str | int | bool] = Field(
        default_factory=dict,
        description="librdkafka properties: security.protocol, sasl.*, ssl.*, enable.ssl.certificate.verification",
    )
    sasl_password_env: str | None = Field(default=None, description="environment variable holding sasl.password")
    sasl_password_file: Path | None = Field(default=None, description="file holding sasl.password")
    ssl_key_password_env: str | None = Field(default=None, description="environment variable holding ssl.key.password")
    ssl_key_password_file: Path | None = Field(default=None, description="file holding ssl.key.password")
    max_outage: timedelta = Field(
        default=timedelta(minutes=15), gt=timedelta(0), description="a worker unserved by the cluster this long exits"
    )
    max_idle: timedelta = Field(
        default=timedelta(seconds=0.5),
        ge=timedelta(0),
        le=timedelta(minutes=1),
        description="how long a worker waits for a topic with nothing to fetch before applying its partition's "
        "other topics (Kafka Streams' max.task.idle.ms): less latency, or more tolerance of a late producer",
    )

    @model_validator(mode="after")
    def _security_only(self) -> Kafka:
        for name in self.client:
            # A key, a password or a client secret written here would be echoed by `recon config check`.
            if "password" in name or "secret" in name or name == "ssl.key.pem":
                raise ValueError(
                    f"client.{name}: secrets never go in the config file; name sasl.password and ssl.key.password "
                    "in sasl_password_env/_file and ssl_key_password_env/_file, and a key by ssl.key.location"
                )
            # The shell sets the rest (group, transactions, isolation, idempotence): exactly-once depends on them.
            security = name in ("security.protocol", "enable.ssl.certificate.verification")
            if not (security or name.startswith(("sasl.", "ssl."))):
                raise ValueError(f"client.{name}: only security settings pass through to librdkafka")
        _named_once("sasl.password", "sasl_password_env", self.sasl_password_env, "sasl_password_file",
                    self.sasl_password_file)  # fmt: skip
        _named_once("ssl.key.password", "ssl_key_password_env", self.ssl_key_password_env, "ssl_key_password_file",
                    self.ssl_key_password_file)  # fmt: skip
        return self


class Config(BaseSettings):
    """Everything a deployment may set. The defaults are what `recon demo` runs with."""

    model_config = SettingsConfigDict(env_prefix="RECON_", env_nested_delimiter="__", extra="forbid", frozen=True)

    windows: Windows = Windows()
    retention: Retention = Retention()
    limits: Limits = Limits()
    three_way: ThreeWay = ThreeWay()
    duplicates: Duplicates = Duplicates()
    matching: Matching = Matching()
    severity: Severity = Severity()
    accounts: tuple[Account, ...] = ()
    formats: Formats = Formats()
    bank_codes: tuple[BankCodeRule, ...] = ()
    database: Database = Database()
    auth: Auth = Auth()
    webhooks: tuple[Webhook, ...] = ()
    delivery: Delivery = Delivery()
    kafka: Kafka = Kafka()
    audit: Audit = Audit()
    erp: tuple[ErpTarget, ...] = ()
    posting: Posting = Posting()
    intake: Intake = Intake()

    @model_validator(mode="after")
    def _accounts_distinct(self) -> Config:
        seen: dict[str, int] = {}
        for number, account in enumerate(self.accounts):
            for name in {account.as_written().key, account.canonical().key}:
                if name in seen and seen[name] != number:
                    raise ValueError(f"accounts.{number}: account {name} is configured twice")
                seen[name] = number
        return self

    @model_validator(mode="after")
    def _erp_routes_distinct(self) -> Config:
        names: set[str] = set()
        owner: dict[str, str] = {}
        for number, target in enumerate(self.erp):
            if target.name in names:
                raise ValueError(f"erp.{number}.name: ERP {target.name!r} is configured twice")
            names.add(target.name)
            for code in target.company_codes:
                if code in owner:
                    raise ValueError(f"erp.{number}.company_codes: {code} already posts to {owner[code]!r}")
                owner[code] = target.name
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        elif settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    # -- what the parts of the program take ----------------------------------------------------------
    def engine_settings(self) -> Settings:
        return Settings(
            amount_tolerance=AmountTolerance(share=self.three_way.share, absolute=self.three_way.absolute),
            ack_window=self.windows.ack,
            settlement_window=self.windows.settlement,
            posting_sla=self.windows.posting_sla,
            posting_hold=self.windows.posting_hold,
            clock_skew=self.windows.clock_skew,
            match_policy=MatchPolicy(**self.matching.model_dump()),
            duplicate_policy=DuplicatePolicy(**self.duplicates.model_dump()),
            severity=SeverityPolicy(**self.severity.model_dump()),
            account_companies={account.canonical().key: account.company_code for account in self.accounts},
            code_rules=tuple(rule.rule() for rule in self.bank_codes),
            event_id_window=self.retention.event_ids,
            bank_entry_window=self.retention.bank_entries,
            paid_invoice_retention=self.retention.paid_invoices,
        )

    def ingest_options(self) -> IngestOptions:
        """What the bank and AP file converters look up: house accounts by every name, suppliers, buyers."""
        accounts: dict[str, AccountRef] = {}
        currencies: dict[str, str] = {}
        for account in self.accounts:
            canonical, written = account.canonical(), account.as_written()
            names = {compact(account.id), written.key}
            if account.bank_id:
                names.add(f"{compact(account.bank_id)}/{compact(account.id)}")
            if account.iban:
                names.add(canonical.key)
            for name in names:
                accounts[name] = canonical
            currencies[canonical.key] = currencies[written.key] = account.currency
        return IngestOptions(
            accounts=accounts,
            account_currencies=currencies,
            vendors=dict(self.formats.vendors),
            companies=dict(self.formats.companies),
            default_company_code=self.formats.default_company_code,
            flat_mapping=self.formats.csv_mapping,
            max_document_bytes=self.formats.max_document_bytes,
        )

    def case_store_url(self, out_dir: Path) -> URL | None:
        """Where this run's cases go; None when the case store is off. The password is read here, late."""
        if not self.database.enabled:
            return None
        from .cases.database import database_url  # SQLAlchemy only for commands that open the store

        url = self.database.url or f"sqlite:///{(out_dir / 'cases.sqlite').resolve()}"
        return database_url(url, self.database.password_env, self.database.password_file)

    def audit_key(self) -> AuditKey | None:
        """The key of the audit chain, read here, late; None when none is configured."""
        if not (self.audit.key_env or self.audit.key_file):
            return None
        from .secrets import SecretError, read_secret

        secret = read_secret("audit.key", self.audit.key_env, self.audit.key_file)
        try:
            return AuditKey.from_text(secret)
        except AuditKeyError as exc:
            raise SecretError(f"audit.key: {exc}") from None

    def intake_settings(self) -> IntakeSettings | None:
        """The AP intake's settings; None when it is off."""
        section = self.intake
        if section.input_dir is None:
            return None
        from .intake.settings import IntakeSettings, Platform

        return IntakeSettings(
            input_dir=section.input_dir,
            platforms=tuple(
                Platform(p.name, p.secret_env, p.secret_file, tuple(Stream(name) for name in p.streams))
                for p in section.platforms
            ),
            index_path=section.index_path,
            tolerance_seconds=section.tolerance_seconds,
            max_body_bytes=section.max_body_bytes,
            max_events=section.max_events,
            id_retention=section.id_retention,
            stamp_ingest_time=section.stamp_ingest_time,
            kafka_bootstrap=section.kafka_bootstrap,
            topic_prefix=section.topic_prefix,
            partitions=section.partitions,
            routes_path=section.routes_path,
        )

    def erp_routes(self) -> dict[str, str]:
        """Company code -> the name of the ERP its invoices post to."""
        return {code: target.name for target in self.erp for code in target.company_codes}

    def house_accounts(self) -> dict[str, str]:
        """Account key -> company code, for every name an account goes by (what the Kafka router keys on)."""
        found: dict[str, str] = {}
        for account in self.accounts:
            found[account.canonical().key] = account.company_code
            found[account.as_written().key] = account.company_code
        return found


class ConfigError(ReconError, ValueError):
    """A config file that does not validate: every error with the dotted key it is at."""

    def __init__(self, path: Path | None, errors: list[str]) -> None:
        where = str(path) if path is not None else "the environment"
        super().__init__(f"{where}: " + "; ".join(errors))
        self.path = path
        self.errors = errors


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    from_env = os.environ.get(ENV_VAR)
    return Path(from_env) if from_env else None


def load_config(explicit: Path | None = None) -> Config:
    """The effective configuration: defaults, then the file (`--config` or $RECON_CONFIG), then RECON_* keys."""
    path = config_path(explicit)
    if path is not None and not path.is_file():
        raise ConfigError(path, [f"<file>: no such file {path}"])
    try:
        return _reading(path)()
    except ValidationError as exc:
        raise ConfigError(path, [_located(error) for error in exc.errors(include_url=False)]) from None
    except (OSError, ValueError) as exc:  # TOML/YAML syntax: the reader's own message names line and column
        raise ConfigError(path, [f"<syntax>: {exc}"]) from None


def _reading(path: Path | None) -> type[Config]:
    """Config bound to one file: pydantic-settings takes a file source from the class, not from the call."""
    if path is None:
        return Config
    bound = SettingsConfigDict(**Config.model_config)
    if path.suffix.lower() in (".yaml", ".yml"):
        bound["yaml_file"] = path
    else:
        bound["toml_file"] = path
    return type("FileConfig", (Config,), {"model_config": bound})


def _located(error: ErrorDetails) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "<file>"
    return f"{key}: {error['msg'].removeprefix('Value error, ')}"


def effective(config: Config) -> dict[str, Any]:
    """The settings in force, as plain JSON-able data, for `recon config check`."""
    return config.model_dump(mode="json")
