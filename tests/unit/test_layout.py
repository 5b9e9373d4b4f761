"""The layout keeps its promises: small modules, a worker free of dev tools, and docs
that point at files that exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 300
DOCS = [ROOT / "README.md", ROOT / "bench" / "README.md", ROOT / "tests" / "reliability" /
        "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A repository path in backticks or a markdown link: a/b.ext or a/b/ (no wildcards or <>).
PATH = re.compile(r"`((?:[\w.-]+/)+[\w.-]*)`|\]\(((?!https?:|#)[^)#\s]+)")
TOP_DIRS = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}


@pytest.mark.parametrize("module", sorted(ROOT.glob("streams/**/*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_over_300_lines(module: Path) -> None:
    lines = len(module.read_text().splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)}: {lines} lines"


def test_the_worker_imports_no_dev_tool() -> None:
    code = ("import sys, streams.worker.app, streams.cli; "
            "print(sorted(m for m in sys.modules if m.startswith('streams.dev')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def _mentioned(doc: Path) -> set[str]:
    paths = set()
    for match in PATH.finditer(doc.read_text()):
        path = match[1] or match[2]
        if match[2]:  # links are relative to the document
            path = str((doc.parent / path).resolve().relative_to(ROOT))
        if path.split("/")[0] in TOP_DIRS:
            paths.add(path)
    return paths


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_a_doc_names_exists(doc: Path) -> None:
    missing = sorted(p for p in _mentioned(doc) if not (ROOT / p).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names files that do not exist: {missing}"


def test_the_docs_name_files_at_all() -> None:
    assert len(_mentioned(ROOT / "README.md")) > 10
