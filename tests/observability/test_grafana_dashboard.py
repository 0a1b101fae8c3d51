"""deploy/grafana/aisonar.json queries only what `/metrics` exposes: every metric named in a
panel's PromQL or a template variable's query is a series a running gateway shows, with
every label the query selects, groups or names in a legend by. The gateway is made to
produce every family first (a stream, an upstream failure, a limit refusal), so a missing
series means a wrong name, not an idle gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from aisonar.limits.models import LimitChanges, Subject, SubjectKind
from aisonar.limits.services import set_limits
from tests.gateway.test_metrics import Families, chat, client, own_gateway, scrape, stream_chat
from tests.support import Backend, make_tenant

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DOCS = ROOT / "docs"
DASHBOARD = GRAFANA / "aisonar.json"

# Labels Prometheus adds to every series it scrapes (the target's), never on /metrics.
TARGET_LABELS = frozenset({"job", "instance"})
# What the dashboard is for: each of these is queried by some panel.
REQUIRED = {
    "aisonar_requests_total",
    "gen_ai_client_operation_duration_seconds_bucket",
    "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
    "gen_ai_client_token_usage_sum",
    "aisonar_cost_total",
    "aisonar_channel_state",
    "aisonar_limit_refusals_total",
    "aisonar_upstream_failed_attempts_total",
    "aisonar_event_loop_lag_seconds_bucket",
    "aisonar_usage_writer_queue_depth",
    "aisonar_usage_writer_events_dropped_total",
}

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_STRING = r'"(?:[^"\\]|\\.)*"'
_SELECTOR = re.compile(rf"({_NAME})?\s*\{{((?:[^}}\"]|{_STRING})*)\}}")
_MATCHER = re.compile(rf"\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*{_STRING}\s*,?")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_RANGE = re.compile(r"\[[^\]]*\]")
# An identifier that does not continue a number (0.95, 1e3) or a Grafana variable.
_IDENTIFIER = re.compile(rf"(?<![\w.$]){_NAME}")
_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_KEYWORDS |= {"bool", "and", "or", "unless", "offset", "inf", "nan"}
_LEGEND_LABEL = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")
_LABEL_VALUES = re.compile(rf"^label_values\(\s*(.+),\s*({_NAME})\s*\)$")


@dataclass
class Query:
    """What one PromQL expression reads: each metric with the labels its selector
    matches on, the labels it groups by, and those its legend names."""

    where: str
    metrics: dict[str, set[str]] = field(default_factory=dict)
    grouping: set[str] = field(default_factory=set)
    legend: set[str] = field(default_factory=set)


def parse(expr: str, where: str, legend: str = "") -> Query:
    query = Query(where, legend=set(_LEGEND_LABEL.findall(legend)))
    rest = _RANGE.sub(" ", expr)
    for selector in _SELECTOR.finditer(rest):
        name, matchers = selector.group(1), selector.group(2)
        assert name, f"{where}: a selector without a metric name: {selector.group(0)}"
        assert not _MATCHER.sub("", matchers).strip(), f"{where}: unparsed matchers {matchers}"
        query.metrics.setdefault(name, set()).update(_MATCHER.findall(matchers))
    rest = _SELECTOR.sub(lambda selector: f" {selector.group(1)} ", rest)
    for labels in _GROUPING.findall(rest):
        query.grouping.update(label.strip() for label in labels.split(",") if label.strip())
    rest = _GROUPING.sub(" ", rest)
    for identifier in _IDENTIFIER.finditer(rest):
        name = identifier.group(0)
        calls = rest[identifier.end() :].lstrip().startswith("(")
        if not calls and name not in _KEYWORDS:
            query.metrics.setdefault(name, set())
    assert query.metrics, f"{where}: no metric in {expr}"
    return query


def panels(items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    queries = [
        parse(target["expr"], f"{panel['title']} {target['refId']}", target.get("legendFormat", ""))
        for panel in panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        found = _LABEL_VALUES.match(variable["definition"])
        assert found, f"${variable['name']}: not a label_values() query"
        query = parse(found.group(1), f"${variable['name']}")
        query.grouping.add(found.group(2))
        queries.append(query)
    return queries


def exposed_labels(families: Families) -> dict[str, set[str]]:
    """Each sample name /metrics shows (a histogram's _bucket, _sum, _count, a counter's
    _total), with every label name any of its samples has."""
    labels: dict[str, set[str]] = {}
    for family in families.values():
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def unexposed(queries: list[Query], exposed: dict[str, set[str]]) -> list[str]:
    """What the queries read that /metrics does not show."""
    wrong = []
    for query in queries:
        for metric, matched in query.metrics.items():
            if metric not in exposed:
                wrong.append(f"{query.where}: {metric}")
                continue
            known = exposed[metric] | TARGET_LABELS
            for label in sorted((matched | query.grouping) - known):
                wrong.append(f"{query.where}: {metric} has no label {label}")
        kept = query.grouping or set().union(*(exposed.get(m, set()) for m in query.metrics))
        for label in sorted(query.legend - kept - TARGET_LABELS):
            wrong.append(f"{query.where}: the legend names {label}, which the query drops")
    return wrong


def test_the_parser_finds_metrics_and_labels() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le, model) (rate(lag_seconds_bucket{a="x}", b!~"$v"}'
        "[$__rate_interval]))) / ignoring(c) scalar(up) * 1e3 + sum(rate(other_total[5m] "
        "offset 1h))"
    )
    query = parse(expr, "example", "{{model}} {{instance}}")
    assert query.metrics == {"lag_seconds_bucket": {"a", "b"}, "up": set(), "other_total": set()}
    assert query.grouping == {"le", "model", "c"}
    assert query.legend == {"model", "instance"}


def test_the_provisioning_examples_point_at_prometheus_and_the_dashboard() -> None:
    provisioning = GRAFANA / "provisioning"
    sources = (provisioning / "datasources" / "aisonar.yaml").read_text()
    assert "\n    type: prometheus\n" in sources
    providers = (provisioning / "dashboards" / "aisonar.yaml").read_text()
    assert "\n    type: file\n" in providers
    # The folder the provider reads is the one the docs copy the dashboard into.
    [path] = re.findall(r"\n      path: (\S+)\n", providers)
    assert f"deploy/grafana/aisonar.json {path}/" in (DOCS / "grafana.md").read_text()
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    [datasource] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    assert datasource["query"] == "prometheus"
    # No import-time input: the same file works imported in the UI and provisioned.
    assert "__inputs" not in dashboard
    queried = [panel for panel in panels(dashboard["panels"]) if "targets" in panel]
    assert {panel["datasource"]["uid"] for panel in queried} == {"${datasource}"}


async def test_every_metric_the_dashboard_queries_is_exposed(backend: Backend) -> None:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    queries = dashboard_queries(dashboard)
    assert not REQUIRED - {metric for query in queries for metric in query.metrics}

    tenant = await make_tenant(backend.engine)
    limited = await make_tenant(backend.engine)
    async with backend.engine.begin() as conn:
        await set_limits(conn, Subject(SubjectKind.KEY, limited.key_id), LimitChanges(rpm=1))
    async with own_gateway(backend) as gateway:
        async with client(gateway, tenant) as sdk:
            await chat(sdk)
            await stream_chat(sdk)
            with pytest.raises(openai.InternalServerError):
                await chat(sdk, prompt="[[fault:500]]")
        async with client(gateway, limited) as sdk:
            await chat(sdk)
            with pytest.raises(openai.RateLimitError):
                await chat(sdk)
        families = await scrape(gateway)

    exposed = exposed_labels(families)
    assert unexposed(queries, exposed) == []
    # And the check bites: a misnamed metric or label is reported.
    typo = parse('sum by (model) (rate(aisonar_request_total{status="5xx"}[5m]))', "typo")
    wrong_label = parse("sum by (model) (rate(aisonar_requests_total[5m]))", "label")
    assert unexposed([typo, wrong_label], exposed) == [
        "typo: aisonar_request_total",
        "label: aisonar_requests_total has no label model",
    ]
