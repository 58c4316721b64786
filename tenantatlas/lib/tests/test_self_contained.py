"""The product and its tests need nothing outside the repository.

A clone on its own (no sibling folders) must pass ``./run test``; a file that reaches for a
folder next to the repository only works on machines that happen to have it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from django.conf import settings

from tenantatlas.simulator.schema import SCHEMA_PATH

ROOT = Path(settings.BASE_DIR)
# Spelled in pieces so this file does not match itself.
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("../" + "shared"),
            re.escape("/work/" + "shared"),
            r"parent\s*/\s*[\"']" + "shared" + r"[\"']",
            re.escape("shared" + "/reference"),
        ]
    )
)
SCANNED = (".py", ".toml", ".cfg", ".ini", ".html", ".txt", ".sh", "")


def _tracked_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [ROOT / name for name in listing.stdout.splitlines() if name]


def test_it_has_no_file_that_reads_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        if path.suffix not in SCANNED or not path.is_file() or path == Path(__file__):
            continue
        text = path.read_text(errors="replace")
        offenders += [
            f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            if OUTSIDE.search(line)
        ]
    assert offenders == []


def test_it_ships_the_graph_schema_extract_with_its_source_and_licence() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    notice = (SCHEMA_PATH.parent / "README.md").read_text()

    assert SCHEMA_PATH.is_relative_to(ROOT)
    assert schema["source"].startswith("microsoftgraph/msgraph-metadata")
    assert {"entity_sets", "enums", "types"} <= set(schema)
    assert "microsoftgraph/msgraph-metadata" in notice
    assert "MIT" in notice
