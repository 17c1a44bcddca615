"""ops/: Prometheus config and alert rules pass promtool (and each alert fires when its condition holds);
the Grafana dashboard follows the house rules and asks only for metrics the engine exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import orjson
import yaml
from reconstream.shells.cases.store import CaseStore
from reconstream.shells.metrics import SLA_METRICS, RunMetrics
from reconstream.shells.web.case_metrics import CaseQueueMetrics
from servers import unavailable

OPS = Path(__file__).resolve().parents[1] / "ops"
DASHBOARD = OPS / "grafana" / "dashboards" / "reconstream.json"
_METRIC = re.compile(r"\b(recon_[a-z0-9_]+)")


def promtool(*args: str) -> str:
    tool = shutil.which("promtool")
    if tool is None:
        unavailable("promtool is not installed (make test installs Debian's prometheus package)")
    done = subprocess.run([tool, *args], capture_output=True, text=True, cwd=OPS / "prometheus")
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def exported_names(case_store_dir: Path) -> set[str]:
    """Every series name the engine's registry and the case store's gauges expose, with the suffixes
    Prometheus adds."""
    names: set[str] = set()
    store = CaseStore.open(f"sqlite:///{case_store_dir / 'cases.sqlite'}")
    families = [*RunMetrics().registry.collect(), *CaseQueueMetrics(store).collect()]
    store.close()
    for family in families:
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type in ("counter", "histogram"):
            names.update(
                {f"{family.name}_total", f"{family.name}_bucket", f"{family.name}_sum", f"{family.name}_count"}
            )
    return names


def queries() -> list[tuple[str, str]]:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def test_promtool_accepts_the_config_and_the_rules() -> None:
    assert "SUCCESS" in promtool("check", "config", "prometheus.yml")
    assert "SUCCESS" in promtool("check", "rules", "alerts.yml")


def test_every_alert_fires_when_its_condition_is_made_true() -> None:
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tested = {
        case["alertname"]
        for test in yaml.safe_load((OPS / "prometheus" / "alerts_test.yml").read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    assert tested == alerts
    promtool("test", "rules", "alerts_test.yml")


def test_business_and_technical_alerts_go_to_different_teams() -> None:
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    teams = {group["name"]: {rule["labels"]["team"] for rule in group["rules"]} for group in rules["groups"]}
    assert teams == {"reconstream-business": {"finance"}, "reconstream-technical": {"integration"}}


def test_dashboard_panels_have_units_a_templated_datasource_and_rate_intervals() -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    assert [v["name"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"] == ["datasource"]
    for panel in dashboard["panels"]:
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            for window in re.findall(r"(?:rate|increase)\([^\[]*\[([^\]]+)\]", target["expr"]):
                assert window == "$__rate_interval", (panel["title"], target["expr"])


def test_dashboard_and_alerts_ask_only_for_metrics_the_engine_exports(tmp_path: Path) -> None:
    exported = exported_names(tmp_path)
    alerts = (OPS / "prometheus" / "alerts.yml").read_text()
    used = {name for _, expr in queries() for name in _METRIC.findall(expr)} | set(_METRIC.findall(alerts))
    assert used - exported == set()
    # And the SLA set of design.md is on the dashboard.
    for sla in SLA_METRICS:
        assert any(sla in expr for _, expr in queries()), sla
