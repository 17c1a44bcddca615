"""One validated config file read by every command: defaults without it, every error named by its key."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from reconstream.shells.config import EXAMPLE, Config, ConfigError, load_config

REAL = Path(__file__).parent / "fixtures" / "bank" / "real"
RECON = [sys.executable, "-m", "reconstream.shells.cli"]


def recon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*RECON, *args], capture_output=True, text=True, env={**os.environ, **(env or {})})


def test_the_commented_example_is_exactly_the_defaults() -> None:
    assert load_config(EXAMPLE).model_dump() == Config().model_dump()
    printed = recon("config", "example")
    assert printed.returncode == 0 and printed.stdout == EXAMPLE.read_text(encoding="utf-8")


def test_check_names_the_key_of_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[matching]\nauto_match_threshold = 101\n[windows]\nack = "soon"\n'
        '[[accounts]]\nid = "123"\ncompany_code = "1000"\ncurrency = "XXX"\n[surprise]\nkey = 1\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    keys = {error.split(":")[0] for error in caught.value.errors}
    assert {"matching.auto_match_threshold", "windows.ack", "accounts.0", "surprise"} <= keys
    result = recon("config", "check", "--config", str(bad))
    assert result.returncode == 2 and "matching.auto_match_threshold" in result.stderr


def test_yaml_and_environment_overrides(tmp_path: Path) -> None:
    yaml = tmp_path / "recon.yaml"
    yaml.write_text("windows:\n  ack: PT12H\nseverity:\n  critical_from: '50000'\n")
    config = load_config(yaml)
    assert config.windows.ack == timedelta(hours=12) and config.severity.critical_from == Decimal(50000)
    settings = config.engine_settings()
    assert settings.ack_window == timedelta(hours=12) and settings.severity.critical_from == Decimal(50000)
    checked = recon("config", "check", env={"RECON_CONFIG": str(yaml), "RECON_WINDOWS__SETTLEMENT": "P7D"})
    assert checked.returncode == 0, checked.stderr
    effective = orjson.loads(checked.stdout)
    assert effective["windows"]["ack"] == "PT12H" and effective["windows"]["settlement"] == "P7D"


def test_a_missing_file_is_named() -> None:
    result = recon("run", "--config", "/nowhere/recon.toml", "--input", ".", "--out", "/tmp/never")
    assert result.returncode == 2 and "/nowhere/recon.toml" in result.stderr


def test_recon_run_with_an_account_mapping_converts_bai2_and_a_domestic_mt940(tmp_path: Path) -> None:
    bank = tmp_path / "input" / "bank"
    bank.mkdir(parents=True)
    (bank / "svb.bai2").write_bytes((REAL / "moj-bai2" / "svb_us_example.bai2").read_bytes())
    (bank / "kbs.sta").write_bytes((REAL / "fruitl00p-php-mt940" / "Kbs" / "sample").read_bytes())
    config = tmp_path / "recon.toml"
    config.write_text(
        "[[accounts]]\n"
        'name = "Silicon Valley Bank operating"\nid = "1234567890"\nscheme = "us_aba"\nbank_id = "121140399"\n'
        'company_code = "4000"\ncurrency = "USD"\n\n'
        "[[accounts]]\n"
        'name = "Komercijalna Banka Skopje"\nid = "300000002778989"\ncompany_code = "7000"\ncurrency = "MKD"\n'
    )
    result = recon("run", "--config", str(config), "--input", str(tmp_path / "input"), "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert out.joinpath("dead_letters.jsonl").read_bytes() == b""
    positions = {p["account"]: p for p in orjson.loads((out / "cash_positions.json").read_bytes())["positions"]}
    us, mk = positions["us_aba:121140399/1234567890"], positions["bban:300000002778989"]
    assert (us["company_code"], us["currency"], us["bank_balance"], us["booked_balance"]) == (
        "4000",
        "USD",
        "361229.75",  # the bank's 015 closing ledger of 2022-02-02, as read from the file by hand
        "361229.75",
    )
    assert (mk["company_code"], mk["currency"], mk["bank_balance"]) == ("7000", "MKD", "36992.00")
    assert mk["booked_balance"] == mk["bank_balance"]
    audit = [orjson.loads(line) for line in (out / "audit.jsonl").read_bytes().splitlines()]
    assert sum(record["outcome"] == "applied" for record in audit) == len(audit)


def test_bank_code_rules_reach_the_engine_and_a_rule_that_says_nothing_is_named(tmp_path: Path) -> None:
    good = tmp_path / "codes.toml"
    good.write_text(
        '[[bank_codes]]\nproprietary = "NMSC+835"\nmeans = "intercompany"\n'
        '[[bank_codes]]\nproprietary = "808"\nissuer = "DK"\ncredit_debit = "DBIT"\nmeans = "bank_fee"\n'
    )
    settings = load_config(good).engine_settings()
    assert [(r.proprietary, r.means.value) for r in settings.code_rules] == [
        ("NMSC+835", "intercompany"),
        ("808", "bank_fee"),
    ]
    assert settings.policy_version != Config().engine_settings().policy_version
    bad = tmp_path / "bad.toml"
    bad.write_text('[[bank_codes]]\nmeans = "salary"\n[[bank_codes]]\nfamily = "ICDT"\nmeans = "wages"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(bad)
    keys = {error.split(":")[0] for error in caught.value.errors}
    assert {"bank_codes.0", "bank_codes.1.means"} <= keys


def test_the_intake_section_carries_its_kafka_settings(tmp_path: Path) -> None:
    from reconstream.shells.intake import IntakeSettings
    from reconstream.shells.kafka.topics import DEFAULT_PARTITIONS

    path = tmp_path / "recon.toml"
    path.write_text(
        '[intake]\ninput_dir = "/srv/in"\nkafka_bootstrap = "k1:9092,k2:9092"\ntopic_prefix = "acme"\npartitions = 12\n'
    )
    settings = load_config(path).intake_settings()
    assert settings is not None
    assert (settings.kafka_bootstrap, settings.topic_prefix, settings.partitions) == ("k1:9092,k2:9092", "acme", 12)
    assert settings.routes == Path("/srv/in/.intake-routes.sqlite")  # hidden beside the id index
    # Without the keys: files, and the partition count every other Kafka command creates topics with.
    assert Config().intake.kafka_bootstrap is None and Config().intake.topic_prefix is None
    assert Config().intake.partitions == IntakeSettings(tmp_path, ()).partitions == DEFAULT_PARTITIONS


def test_a_workers_idle_wait_comes_from_the_kafka_section(tmp_path: Path) -> None:
    """`[kafka] max_idle` reaches `recon worker`: how long a topic with nothing to fetch holds its partition's
    other topics (docs/kafka.md, Order), which trades latency against a late producer's order."""
    from reconstream.shells import cli

    def worker_with(config: Path | None) -> float:
        flags = ["worker", "--broker", "127.0.0.1:9", "--data-dir", str(tmp_path / "w1")]
        args = cli.build_parser().parse_args([*flags, *(["--config", str(config)] if config else [])])
        return cli.worker_config(args).max_idle

    path = tmp_path / "recon.toml"
    path.write_text('[kafka]\nmax_idle = "PT0.1S"\n')
    assert worker_with(path) == 0.1
    assert worker_with(None) == 0.5
    path.write_text('[kafka]\nmax_idle = "PT2M"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert [error.split(":")[0] for error in caught.value.errors] == ["kafka.max_idle"]
