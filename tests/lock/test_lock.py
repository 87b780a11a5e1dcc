"""CI fails when pyproject.toml declares other dependencies than the locks were made for
(`scripts/lock.py --check`, which `make test` runs first), and only then."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILES = ("pyproject.toml", "requirements.lock", "requirements-prod.lock")


def _check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock.py"), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_fit_the_committed_pyproject() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stderr


def test_the_check_passes_on_an_unchanged_copy(copy: Path) -> None:
    assert _check(copy).returncode == 0


CHANGES: dict[str, Callable[[Path], None]] = {
    "a new dependency": lambda p: _edit(
        p, "dependencies = [\n", 'dependencies = [\n    "rich>=13",\n'
    ),
    "a narrower range": lambda p: p.write_text(
        re.sub(r'(dependencies = \[\n    "[^"]+)"', r'\1,!=0.0.1"', p.read_text(), count=1)
    ),
    "a new dev dependency": lambda p: _edit(p, "dev = [\n", 'dev = [\n    "hypothesis>=6",\n'),
    "a new extra": lambda p: p.write_text(
        p.read_text().replace(
            "[project.optional-dependencies]\n",
            '[project.optional-dependencies]\nvoice = ["numpy>=2"]\n',
        )
    ),
    "another Python": lambda p: p.write_text(
        re.sub(r'requires-python = "[^"]*"', 'requires-python = ">=3.14"', p.read_text())
    ),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_changed_declaration_fails_and_says_to_run_make_lock(copy: Path, change: str) -> None:
    CHANGES[change](copy / "pyproject.toml")
    result = _check(copy)
    assert result.returncode == 1
    assert "requirements.lock was made for other dependencies" in result.stderr
    assert "requirements-prod.lock was made for other dependencies" in result.stderr
    assert "Run `make lock`" in result.stderr


def test_settings_that_change_no_pin_leave_the_locks_valid(copy: Path) -> None:
    pyproject = copy / "pyproject.toml"
    _edit(pyproject, "line-length = 100", "line-length = 99")
    _edit(pyproject, 'version = "0.1.0"', 'version = "0.2.0"')
    pyproject.write_text(pyproject.read_text() + "\n# a comment\n")
    assert _check(copy).returncode == 0


def test_a_production_pin_the_tests_did_not_run_with_fails(copy: Path) -> None:
    prod = copy / "requirements-prod.lock"
    prod.write_text(re.sub(r"(?m)^stripe==\S+", "stripe==16.99.0", prod.read_text()))
    result = _check(copy)
    assert result.returncode == 1
    assert "requirements-prod.lock has stripe==16.99.0, which requirements.lock does not" in (
        result.stderr
    )


def test_a_lock_without_its_digest_fails(copy: Path) -> None:
    lock = copy / "requirements.lock"
    lock.write_text(
        "".join(line for line in lock.read_text().splitlines(keepends=True) if "digest" not in line)
    )
    result = _check(copy)
    assert result.returncode == 1
    assert "Run `make lock`" in result.stderr
