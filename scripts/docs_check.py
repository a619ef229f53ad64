"""Check every command the documentation shows (``make docs-check``; tests/docs runs the same checks).

A command is code: a line of a fenced ``bash``/``sh`` block or an inline code span. For each one:

- ``make <target>``: the target exists in the Makefile;
- ``python -m <module>``: the module resolves (a package through its ``__main__``) or imports;
- a relative link: its file, and its heading, exist;
- ``curl``: it sits in a fenced block preceded by a marker that says how it is checked —
  ``<!-- check: curl cities -->`` / ``<!-- check: curl library -->`` (tests/docs runs the block against a
  search function serving that demo on a real Elasticsearch) or ``<!-- check: skip: <reason> -->``.

And docs/configuration.md must be what :mod:`scripts.configuration_doc` renders.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scripts import configuration_doc

ROOT = Path(__file__).resolve().parent.parent
DEMOS = ("cities", "library")
SEARCH_BASE = "http://127.0.0.1:8080"

_FENCE = re.compile(r"^(\s*)```(\w*)\s*$")
_MARKER = re.compile(r"^\s*<!-- check: (.+?) -->\s*$")
_INLINE = re.compile(r"`([^`\n]+)`")
_MAKE = re.compile(r"(?:^|[\s;&(=])make((?:\s+[A-Z_]+=\S+)*)\s+([a-z][a-z0-9-]*)")
_PYTHON_M = re.compile(r"python(?:3(?:\.\d+)?)?\s+-m\s+([A-Za-z_][\w.]*)")
_TARGET = re.compile(r"^([A-Za-z0-9_-]+):(?!=)", re.MULTILINE)
_LINK = re.compile(r"\]\(([^)\s]+)\)")
_HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    """A fenced code block and the check marker right above it."""

    path: Path
    line: int
    lang: str
    lines: tuple[str, ...]
    marker: str | None


@dataclass(frozen=True)
class Code:
    """One piece of code a document shows, where it shows it, and the block it belongs to (if any)."""

    path: Path
    line: int
    text: str
    block: Block | None


def documents() -> list[Path]:
    """README.md and every page of docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, each with the ``check`` marker on the line before it."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    start: int | None = None
    for number, line in enumerate(lines):
        fence = _FENCE.match(line)
        if fence is None:
            continue
        if start is None:
            start = number
            continue
        opening = _FENCE.match(lines[start])
        marker = _MARKER.match(lines[start - 1]) if start > 0 else None
        lang = opening.group(2) if opening else ""
        body = tuple(text.strip() for text in lines[start + 1 : number])
        found.append(Block(path, start + 1, lang, body, marker.group(1) if marker else None))
        start = None
    return found


def _shell_lines(block: Block) -> Iterator[tuple[int, str]]:
    """A shell block's commands, continuation lines joined, trailing ``# comments`` kept."""
    pending, first = "", 0
    for offset, text in enumerate(block.lines, start=1):
        if not pending:
            first = offset
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        command = pending + text
        pending = ""
        if command and not command.startswith("#"):
            yield block.line + first, command


def code(path: Path) -> Iterator[Code]:
    """Every command-like piece of code in a document: shell block lines, then inline code spans."""
    fenced: set[int] = set()
    for block in blocks(path):
        fenced.update(range(block.line, block.line + len(block.lines) + 2))
        if block.lang in {"bash", "sh", "shell", "console"}:
            for where, command in _shell_lines(block):
                yield Code(path, where, command, block)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if number not in fenced and not _MARKER.match(line):
            for span in _INLINE.findall(line):
                if not span.startswith("<!--"):  # a marker quoted in prose is not a command
                    yield Code(path, number, span, None)


def makefile_targets() -> set[str]:
    """The targets the Makefile defines."""
    return set(_TARGET.findall((ROOT / "Makefile").read_text(encoding="utf-8")))


def _module_runs(module: str) -> bool:
    """``python -m module`` would find something to run (a package runs its ``__main__``)."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.submodule_search_locations is not None:
            return importlib.util.find_spec(f"{module}.__main__") is not None
        if spec is not None:
            importlib.import_module(module)
    except ImportError:
        return False
    return spec is not None


def _where(item: Code) -> str:
    return f"{item.path.relative_to(ROOT)}:{item.line}"


def _marker_problem(item: Code) -> str | None:
    if item.block is None:
        return f"{_where(item)}: a curl outside a fenced block cannot be checked: {item.text}"
    marker = item.block.marker
    if marker is None:
        return f"{_where(item)}: a curl block needs a <!-- check: … --> marker"
    if marker.startswith("skip:") and marker.removeprefix("skip:").strip():
        return None
    demo = marker.removeprefix("curl ").strip()
    if not marker.startswith("curl ") or demo not in DEMOS:
        return f"{_where(item)}: unknown check marker {marker!r}"
    if item.text.startswith("curl ") and SEARCH_BASE not in item.text:
        return f"{_where(item)}: a run curl example must call the search function at {SEARCH_BASE}"
    return None


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def link_problems(path: Path) -> Iterator[str]:
    """Relative links that lead nowhere: a missing file, or a heading the target does not have."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        for link in _LINK.findall(line):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            file, _, anchor = link.partition("#")
            target = (path.parent / file).resolve() if file else path
            where = f"{path.relative_to(ROOT)}:{number}"
            if not target.exists():
                yield f"{where}: link to a missing file: {link}"
            elif anchor and target.suffix == ".md":
                headings = {_anchor(h) for h in _HEADING.findall(target.read_text(encoding="utf-8"))}
                if anchor not in headings:
                    yield f"{where}: link to a missing heading: {link}"


def problems() -> list[str]:
    """Everything wrong with the commands the documentation shows; empty when all is well."""
    targets = makefile_targets()
    found: list[str] = []
    for path in documents():
        found.extend(link_problems(path))
        for item in code(path):
            found.extend(
                f"{_where(item)}: no Makefile target {target!r}: {item.text}"
                for _, target in _MAKE.findall(item.text)
                if target not in targets
            )
            found.extend(
                f"{_where(item)}: python -m {module} does not resolve"
                for module in _PYTHON_M.findall(item.text)
                if not _module_runs(module)
            )
            if re.search(r"(?:^|[\s;&(])curl\s", item.text) and (problem := _marker_problem(item)):
                found.append(problem)
    if configuration_doc.PAGE.read_text(encoding="utf-8") != configuration_doc.render():
        found.append("docs/configuration.md is stale: run `make docs`")
    return found


def curl_examples(demo: str) -> list[Code]:
    """The curl commands of every block marked ``<!-- check: curl <demo> -->``, to run against that demo."""
    return [
        item
        for path in documents()
        for item in code(path)
        if item.block is not None and item.block.marker == f"curl {demo}" and item.text.startswith("curl ")
    ]


def main() -> int:
    """Print every problem; exit 1 when there is one."""
    found = problems()
    for problem in found:
        sys.stderr.write(problem + "\n")
    run = sum(len(curl_examples(demo)) for demo in DEMOS)
    sys.stdout.write(f"docs-check: {len(found)} problems; {run} curl examples are run by tests/docs\n")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
