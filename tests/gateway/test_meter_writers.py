"""A request's meter is written only by the pipeline and the relay (and by its own
module): admission, quotas, charging and failover return what they decided, and the
pipeline writes it down."""

from __future__ import annotations

import ast
from pathlib import Path

import aisonar
from aisonar.gateway.metering import RequestMeter

PACKAGE = Path(aisonar.__file__).parent
WRITERS = {"gateway/pipeline.py", "gateway/relay.py", "gateway/metering.py"}
METHODS = {name for name, value in vars(RequestMeter).items() if callable(value) and name[0] != "_"}


def meter_writes(source: str) -> list[int]:
    """The lines of `source` that write a meter: set or delete one of its attributes (or
    theirs), or use one of its methods, called or handed on. A meter is a name `meter`,
    a name annotated `RequestMeter`, or an attribute `meter` or `_meter`."""
    tree = ast.parse(source)
    names = {"meter"}
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and _annotated_meter(node.annotation):
            names.add(node.arg)
        if isinstance(node, ast.AnnAssign) and _annotated_meter(node.annotation):
            names.add(ast.unparse(node.target))

    def is_meter(node: ast.expr) -> bool:
        if isinstance(node, ast.Attribute) and node.attr in ("meter", "_meter"):
            return True
        return isinstance(node, ast.Name) and node.id in names

    def writes(node: ast.expr) -> bool:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return node.func.id in ("setattr", "delattr") and is_meter(node.args[0])
        if isinstance(node, ast.Attribute) and node.attr in METHODS:
            return is_meter(node.value)
        if not (
            isinstance(node, ast.Attribute | ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
        ):
            return False
        target: ast.expr = node
        while isinstance(target, ast.Attribute | ast.Subscript):
            target = target.value
            if is_meter(target):
                return True
        return False

    return sorted(
        {node.lineno for node in ast.walk(tree) if isinstance(node, ast.expr) and writes(node)}
    )


def _annotated_meter(annotation: ast.expr | None) -> bool:
    return annotation is not None and "RequestMeter" in ast.unparse(annotation)


def test_only_the_pipeline_and_the_relay_write_a_meter() -> None:
    writes = {
        f"{module.relative_to(PACKAGE)}:{line}"
        for module in PACKAGE.rglob("*.py")
        if str(module.relative_to(PACKAGE)) not in WRITERS
        for line in meter_writes(module.read_text())
    }
    assert not writes, "a meter written outside the pipeline and the relay"


def test_every_way_of_writing_a_meter_is_seen() -> None:
    source = """
def settle(meter: RequestMeter, request: RequestMeter, charge: Charge) -> None:
    meter.cost = charge.cost
    request.cost, request.price_version = charge
    meter.usage.estimated = True
    request.attempted(route, "ok", 0.0)
    failover(note=meter.attempted)
    setattr(request, "cost", 1)
    self._meter.usage = usage
    mine: RequestMeter = make()
    mine.limit_decision += "!"
    print(meter.cost, request.usage)
"""
    assert meter_writes(source) == [3, 4, 5, 6, 7, 8, 9, 11]
    assert meter_writes("def f(gauge: Meter) -> None:\n    gauge.value = 1\n") == []
