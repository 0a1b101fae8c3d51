"""Renders docs/compatibility.md from the suite's declared cells.

    python -m tests.compat.matrix                 # rewrite docs/compatibility.md
    python -m tests.compat.matrix results.json    # first check a run's outcomes agree

The results file is what the suite writes when run with AISONAR_COMPAT_RESULTS set. A
declared gap's cell should be an xfail and every other cell a pass: a disagreement is
printed and the page is left alone."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import orjson

from tests.compat.cells import CLOUD_PROVIDERS, COLUMNS, DECLARED, FEATURES, PROVIDERS, Cell

HERE = Path(__file__).resolve().parent
PAGE = HERE.parent.parent / "docs" / "compatibility.md"
# What a cell without a test shows: the client lacks the feature, or it is not run.
SHOWN = ("n/a", "·")
PROVIDER_NAMES = {
    "openai": "OpenAI",
    "anthropic": "Anthropic",
    "gemini": "Gemini",
    "azure": "Azure OpenAI",
    "bedrock": "Bedrock",
    "vertex": "Vertex AI",
}

INTRO = """\
# Client compatibility

Real client libraries, pinned in the test suite (`requirements-dev.lock`,
`tests/node/package-lock.json`, and `tests/compat/isolated/` for instructor and Pydantic
AI's Google model, whose dependencies conflict with the lock: each runs in a virtual
environment of its own), run against the gateway in `tests/compat/`. Each cell is
one test: the client calls a model of the column's provider through the gateway (the
fake upstream answers in that provider's wire format) and the test checks the answer
itself: the echoed text, the tool call's arguments, the parsed object, the vector.
Models: `gpt-4o-mini` and `text-embedding-3-small` (OpenAI), `claude-haiku-4-5`
(Anthropic), `gemini-2.5-flash` and `gemini-embedding-001` (Gemini); on the cloud
providers, `gpt-4o-mini` on an Azure OpenAI deployment, Claude Sonnet 4.5 on Bedrock
(Converse) and `gemini-2.5-flash` on Vertex AI. A client named with a wire format after it
(`litellm anthropic/`) calls every model in that format.

- **pass**: works today.
- **fail**: a known gap in the gateway, tested as an expected failure; the note says which.
- **n/a**: the client has no such feature (or, for a provider, no such model).
- **·**: not run: the cloud providers' columns run a representative few cells (LangChain's
  three chat models: text, stream, tools), as they share the translations the first three
  columns test.

instructor only parses objects: `tools` is its TOOLS mode (the object as a forced tool
call), `tools-stream` the same with `create_partial`, `structured` its JSON_SCHEMA mode, or
for `instructor openai (JSON mode)` its JSON mode (`json_object`). Anthropic's JSON modes
only ask for JSON in the system prompt, which the fake upstream does not read.

Not covered: the AI SDK 7 (it needs node 22; the suite pins the AI SDK 6).

This page is generated: `python -m tests.compat.matrix` rewrites it from the suite's
declared cells (with a results file from a run, `AISONAR_COMPAT_RESULTS=results.json`,
it first checks that the run agrees with them).
"""


def declared_cells() -> dict[Cell, str | None]:
    """Every cell the suite's test modules declare (importing them declares them)."""
    for module in sorted(HERE.glob("test_*.py")):
        importlib.import_module(f"tests.compat.{module.stem}")
    return dict(DECLARED)


def render(cells: dict[Cell, str | None]) -> str:
    gaps = sorted({gap for gap in cells.values() if gap})
    note = {gap: index for index, gap in enumerate(gaps, 1)}
    lines = [INTRO]
    header = "| client | feature | " + " | ".join(PROVIDER_NAMES[p] for p in COLUMNS) + " |"
    lines += [header, "| --- | --- |" + " --- |" * len(COLUMNS)]
    clients = sorted({cell.client for cell in cells})
    for client in clients:
        for feature in FEATURES:
            row = [cells.get(Cell(client, feature, p), "n/a") for p in PROVIDERS]
            if all(value == "n/a" for value in row):
                continue
            row += [cells.get(Cell(client, feature, p), "·") for p in CLOUD_PROVIDERS]
            shown = [
                "pass" if value is None else value if value in SHOWN else f"fail [{note[value]}]"
                for value in row
            ]
            lines.append(f"| {client} | {feature} | " + " | ".join(shown) + " |")
    if gaps:
        lines += ["", "## Known gaps", ""]
        lines += [f"{note[gap]}. {gap}" for gap in gaps]
    return "\n".join(lines) + "\n"


def disagreements(cells: dict[Cell, str | None], results: dict[str, str]) -> list[str]:
    found = []
    for cell, gap in sorted(cells.items()):
        expected = "xfail" if gap else "pass"
        outcome = results.get(f"{cell.client}|{cell.feature}|{cell.provider}", "not run")
        if outcome != expected:
            found.append(f"{cell.client} {cell.feature} {cell.provider}: {outcome}, not {expected}")
    return found


def main(argv: list[str]) -> int:
    cells = declared_cells()
    if argv:
        wrong = disagreements(cells, orjson.loads(Path(argv[0]).read_bytes()))
        if wrong:
            print("\n".join(wrong), file=sys.stderr)
            return 1
    PAGE.write_text(render(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
