"""The front ends (`api/`, `console/`, `cli/`, and `web/`, the plumbing the API and the
console share) reach a domain package only through its face: its `services` (the use
cases, with plain typed arguments), its `models` and its errors. They translate their
medium to those calls and back, so a domain's other modules can be split, renamed or
merged without touching a front end (docs/architecture.md, "Domain services")."""

from __future__ import annotations

import ast
from pathlib import Path

import aisonar

PACKAGE = Path(aisonar.__file__).parent
FRONT_ENDS = ("api", "console", "cli", "web")
# The gateway is a layer of its own (the hot path), whose `services` is the service bag
# rather than use cases; `ingest` sits above it. Neither is a domain package.
DOMAIN_PACKAGES = frozenset(
    {
        "abuse",
        "accounts",
        "alerts",
        "analytics",
        "audit",
        "billing",
        "channels",
        "exports",
        "limits",
        "notify",
        "observability",
        "privacy",
        "support",
        "usage",
    }
)
# The modules of a domain package a front end may import, and why.
ALLOWED = {
    "services": "the package's use cases, which the front ends call",
    "models": "the types, dataclasses and enums the use cases take and give",
    "errors": "the package's errors, which each front end renders in its medium",
}


def _imported(path: Path) -> list[tuple[int, str]]:
    """The `aisonar` modules `path` imports, each with its line: `from aisonar.a import b`
    names `aisonar.a.b` when `b` is a module, `aisonar.a` (its `__init__`) when not."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                module = f"{node.module}.{alias.name}"
                folder = PACKAGE.parent.joinpath(*module.split("."))
                is_module = folder.is_dir() or folder.with_suffix(".py").is_file()
                found.append((node.lineno, module if is_module else node.module))
    return [(line, module) for line, module in found if module.startswith("aisonar.")]


def _domain_module(module: str) -> str | None:
    """The domain module `module` is (`billing.codes`, or `billing` for the package's own
    `__init__`), or None when it is not in a domain package."""
    parts = module.split(".")[1:]
    if parts[0] not in DOMAIN_PACKAGES:
        return None
    return ".".join(parts[:2])


def front_end_imports() -> list[tuple[str, str]]:
    """Each (file:line, domain module) a front end imports, in order."""
    found = []
    for front_end in FRONT_ENDS:
        for path in sorted((PACKAGE / front_end).rglob("*.py")):
            for line, module in _imported(path):
                domain_module = _domain_module(module)
                if domain_module is not None:
                    found.append((f"{path.relative_to(PACKAGE)}:{line}", domain_module))
    return found


def _allowed(domain_module: str) -> bool:
    parts = domain_module.split(".")
    return len(parts) == 2 and parts[1] in ALLOWED


def test_front_ends_import_only_services_models_and_errors() -> None:
    imports = front_end_imports()
    assert len(imports) > 100
    refused = [
        f"{where} imports aisonar.{module}" for where, module in imports if not _allowed(module)
    ]
    assert refused == []


def test_a_module_beside_the_services_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "page.py"
    source.write_text(
        "from aisonar.billing import codes, services\n"
        "from aisonar.exports import ExportFormat\n"
        "from aisonar.privacy.requests import list_requests\n"
        "import aisonar.notify.models\n"
        "from aisonar.web.deps import Engine\n"
    )
    domain = [_domain_module(module) for _, module in _imported(source)]
    assert domain == [
        "billing.codes",
        "billing.services",
        "exports",
        "privacy.requests",
        "notify.models",
        None,
    ]
    assert [_allowed(module) for module in domain if module] == [False, True, False, False, True]
