"""The layers hold: plumbing imports no domain, and no router imports another router."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "backend"

PLUMBING = [
    BACKEND / "context.py",
    BACKEND / "db.py",
    BACKEND / "tasks.py",
    *sorted((BACKEND / "kit").rglob("*.py")),
]
# What plumbing may use: itself, auth (who is asking), and vendor clients.
NOT_DOMAINS = {
    "config",
    "context",
    "db",
    "errors",
    "kit",
    "logging",
    "tasks",
    "auth",
    "integrations",
}


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of the file (type-only imports included)."""
    package = _module(path).rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                )
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _domains(modules: set[str]) -> set[str]:
    return {m for m in modules if m.startswith("backend.") and m.split(".")[1] not in NOT_DOMAINS}


def test_plumbing_imports_no_domain():
    direct = {_module(p): sorted(_domains(_imports(p))) for p in PLUMBING}
    assert {m: d for m, d in direct.items() if d} == {}


def test_plumbing_pulls_in_no_domain_when_imported():
    """Through whatever it imports in turn, too (the `context → chat.engine → …` cycle)."""
    modules = [_module(p) for p in PLUMBING]
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert sorted(_domains(set(json.loads(loaded.stdout)))) == []


def test_no_router_imports_another_router():
    routers = sorted(BACKEND.rglob("router.py"))
    assert routers
    offending = {
        _module(path): sorted(
            m for m in _imports(path) if m.split(".")[-1] == "router" and m != _module(path)
        )
        for path in routers
    }
    assert {m: r for m, r in offending.items() if r} == {}
