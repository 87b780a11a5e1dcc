"""Writes (`make lock`) and checks (`make test`, CI) the dependency locks.

- requirements.lock: the project's dependencies with its dev extra, for `make dev`, `make test`, CI.
- requirements-prod.lock: the runtime dependencies only, for production (render.yaml). It is
  resolved under requirements.lock as constraints, so it pins the very versions the tests ran with,
  without the test tools.

Both are universal (one file for every Python from 3.11 on, Linux and macOS alike) and list the hash
of every file of each pinned release, so `pip install --require-hashes` installs those bytes only.
Each records a digest of what pyproject.toml declares. `--check` compares it, so it fails when the
declarations change without a new lock and, unlike a new resolution, never because of a release
that came out today.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = "requirements.lock"
PROD_LOCK = "requirements-prod.lock"
DIGEST_LINE = re.compile(r"^# pyproject\.toml digest: sha256:([0-9a-f]{64})$", re.MULTILINE)
COMPILE = ["pip", "compile", "pyproject.toml", "--universal", "--python-version", "3.11"]
COMPILE += ["--generate-hashes", "--custom-compile-command", "make lock", "--quiet"]
# Where developers and production run; only reported on, see _report_platforms.
TARGETS = [
    (platform, python)
    for platform in (
        "x86_64-manylinux_2_28",
        "aarch64-manylinux_2_28",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
    )
    for python in ("3.11", "3.12", "3.13")
]


def declared_digest(pyproject: Path) -> str:
    """What a resolution depends on in pyproject.toml; its other settings change no pin."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = {
        "requires-python": project.get("requires-python"),
        "dependencies": sorted(project.get("dependencies", [])),
        "optional-dependencies": {
            extra: sorted(requirements)
            for extra, requirements in project.get("optional-dependencies", {}).items()
        },
    }
    return hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest()


def pins(lock: Path) -> dict[str, list[str]]:
    """`name==version ; marker` -> its hashes, one entry per line of the lock."""
    entries: dict[str, list[str]] = {}
    for line in lock.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *hashes = re.split(r"\s+--hash=", line)
        entries[requirement.strip()] = sorted(h.strip() for h in hashes)
    return entries


def check(root: Path) -> list[str]:
    problems = []
    digest = declared_digest(root / "pyproject.toml")
    for name in (LOCK, PROD_LOCK):
        path = root / name
        if not path.exists():
            problems.append(f"{name} is missing")
            continue
        recorded = DIGEST_LINE.search(path.read_text())
        if recorded is None or recorded.group(1) != digest:
            problems.append(
                f"{name} was made for other dependencies than pyproject.toml declares now"
            )
    if not problems:
        locked = pins(root / LOCK)
        for requirement, hashes in pins(root / PROD_LOCK).items():
            if locked.get(requirement) != hashes:
                problems.append(f"{PROD_LOCK} has {requirement}, which {LOCK} does not")
    return problems


def _uv() -> str:
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        sys.exit("uv is not installed: run `make lock`, which installs it from requirements.lock")
    return found


def write(root: Path, upgrade: bool) -> None:
    uv = _uv()
    # Pins already in a lock are kept unless --upgrade: a new dependency moves no other one.
    extra = ["--upgrade"] if upgrade else []
    for command in (
        [uv, *COMPILE, "--extra", "dev", *extra, "-o", LOCK],
        [uv, *COMPILE, "-c", LOCK, "-o", PROD_LOCK],
    ):
        if subprocess.run(command, cwd=root).returncode != 0:
            sys.exit(1)  # uv has said why
    stamp = (
        f"# pyproject.toml digest: sha256:{declared_digest(root / 'pyproject.toml')}\n"
        "# (of its dependencies, optional-dependencies and requires-python: `make test` and CI\n"
        "# fail when pyproject.toml no longer matches; `make lock` writes a new lock)\n"
    )
    for name in (LOCK, PROD_LOCK):
        path = root / name
        lines = path.read_text().splitlines(keepends=True)
        first_pin = next(i for i, line in enumerate(lines) if not line.startswith("#"))
        path.write_text("".join([*lines[:first_pin], stamp, *lines[first_pin:]]))
    problems = check(root)
    if problems:
        sys.exit("\n".join(problems))
    _report_platforms(uv, root)


def _report_platforms(uv: str, root: Path) -> None:
    """Says where the lock cannot be installed: a dependency without a wheel for that platform or
    Python (and no source distribution) shows up here, not on a newcomer's machine."""
    failures = []
    with tempfile.TemporaryDirectory() as target:
        for platform, python in TARGETS:
            result = subprocess.run(
                [
                    *(uv, "pip", "install", "--dry-run", "--no-deps", "--require-hashes"),
                    *("-r", LOCK, "--python-platform", platform, "--python-version", python),
                    # the resolution above has just brought every pinned release's file list
                    *("--target", target, "--quiet", "--offline"),
                ],
                cwd=root,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                cause = re.search(r"cause: (.*)", result.stderr)
                reason = cause.group(1) if cause else result.stderr.strip()
                failures.append(f"  Python {python} on {platform}: {reason}")
    if failures:
        print(f"{LOCK} cannot be installed on:", *failures, sep="\n")
    else:
        print(f"{LOCK} installs on Python 3.11-3.13, Linux x86_64/aarch64 and macOS.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="check the locks, change nothing")
    parser.add_argument("--upgrade", action="store_true", help="move every pin to its newest")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.check:
        write(args.root, args.upgrade)
        return
    problems = check(args.root)
    if problems:
        sys.exit(
            "\n".join(problems) + f"\nRun `make lock` and commit {LOCK} and {PROD_LOCK}"
            " (it keeps the other pins where they are)."
        )


if __name__ == "__main__":
    main()
