"""Builds widget/dist/ from widget/src/; the built files are committed, so running the product
needs no build step.

    python widget/build.py          write dist/ and print the loader's size
    python widget/build.py --check  exit 1 if dist/ is not what a build would write

dist/ holds loader.js, messenger.html (naming the hashed assets), assets/messenger.<hash>.js and
.css, and manifest.json. The output depends only on the sources, byte for byte.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path

import rcssmin
import rjsmin

WIDGET = Path(__file__).resolve().parent
SRC = WIDGET / "src"
DIST = WIDGET / "dist"
ASSETS = "assets"
ASSETS_URL = "/widget/assets/"
LOADER_GZIP_BUDGET = 3 * 1024


def read_source(name: str) -> str:
    # Universal newlines: a checkout with CRLF endings builds the same bytes.
    with open(SRC / name, encoding="utf-8") as file:
        return file.read()


def hashed_name(stem: str, extension: str, content: bytes) -> str:
    return f"{stem}.{hashlib.sha256(content).hexdigest()[:10]}.{extension}"


def build() -> dict[str, bytes]:
    """Every file of dist/, by path relative to it."""
    loader = rjsmin.jsmin(read_source("loader.js")).encode()
    script = rjsmin.jsmin(read_source("messenger.js")).encode()
    stylesheet = rcssmin.cssmin(read_source("messenger.css")).encode()
    manifest = {
        "messenger.css": hashed_name("messenger", "css", stylesheet),
        "messenger.js": hashed_name("messenger", "js", script),
    }

    html = read_source("messenger.html")
    for source_name, built_name in manifest.items():
        reference = ASSETS_URL + source_name
        if html.count(reference) != 1:
            raise SystemExit(f"messenger.html must reference {reference} exactly once")
        html = html.replace(reference, ASSETS_URL + built_name)

    return {
        "loader.js": loader,
        "messenger.html": html.encode(),
        f"{ASSETS}/{manifest['messenger.js']}": script,
        f"{ASSETS}/{manifest['messenger.css']}": stylesheet,
        "manifest.json": (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode(),
    }


def stale_assets(outputs: dict[str, bytes]) -> list[Path]:
    assets = DIST / ASSETS
    if not assets.is_dir():
        return []
    return sorted(
        path
        for path in assets.iterdir()
        if path.is_file() and path.relative_to(DIST).as_posix() not in outputs
    )


def differences(outputs: dict[str, bytes]) -> list[str]:
    problems = []
    for relative, content in outputs.items():
        path = DIST / relative
        if not path.is_file():
            problems.append(f"missing: {path.relative_to(WIDGET.parent)}")
        elif path.read_bytes() != content:
            problems.append(f"out of date: {path.relative_to(WIDGET.parent)}")
    problems += [f"stale: {path.relative_to(WIDGET.parent)}" for path in stale_assets(outputs)]
    return problems


def write(outputs: dict[str, bytes]) -> None:
    for path in stale_assets(outputs):
        path.unlink()
    for relative, content in outputs.items():
        path = DIST / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_file() or path.read_bytes() != content:
            path.write_bytes(content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if dist/ is out of date"
    )
    arguments = parser.parse_args()

    outputs = build()
    if arguments.check:
        problems = differences(outputs)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("widget/dist is out of date: run python widget/build.py", file=sys.stderr)
            return 1
        print("widget/dist is up to date")
        return 0

    write(outputs)
    loader = outputs["loader.js"]
    gzipped = len(gzip.compress(loader, compresslevel=9, mtime=0))
    print(f"widget/dist written; loader.js {len(loader)} bytes, {gzipped} bytes gzipped")
    if gzipped > LOADER_GZIP_BUDGET:
        print(f"loader.js is over its {LOADER_GZIP_BUDGET}-byte gzip budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
