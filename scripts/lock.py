"""requirements.txt, generated from requirements.lock, and the check that both agree with pyproject.toml.

    python -m scripts.lock            # write requirements.txt from requirements.lock
    python -m scripts.lock --check    # exit 1 when requirements.txt or the lock is out of date

`make lock` re-resolves requirements.lock (pip-compile, every runtime dependency pinned,
functions-framework and gunicorn included) and then runs this. Why requirements.txt carries the
pins itself rather than `-r requirements.lock`: the Python buildpack caches the installed
dependencies on a hash of requirements.txt alone (GoogleCloudPlatform/buildpacks
pkg/python/python.go, InstallRequirements), so a pin must change that file to reach an image.
Hermes itself is `-e .`: the dependency layer then points at the source being built, so a
same-day rebuild with the cached layer still runs the new `hermes/`.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
REQUIREMENTS = ROOT / "requirements.txt"
HEADER = """\
# Generated from requirements.lock by `make lock` (scripts/lock.py); do not edit.
# Every runtime dependency pinned (the buildpack installs exactly these), then Hermes itself,
# editable: its code always comes from the source being built.
"""


def pins(text: str) -> dict[str, str]:
    """``name == version`` lines of a pip-compile output, by canonical name."""
    found: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[canonicalize_name(name)] = version.strip()
    return found


def render(lock_text: str) -> str:
    """The requirements.txt that belongs to this lock."""
    lines = [f"{name}=={version}" for name, version in sorted(pins(lock_text).items())]
    return HEADER + "\n".join(lines) + "\n-e .\n"


def problems(lock_text: str, pyproject_text: str, requirements_text: str) -> list[str]:
    """What is out of date, in words; empty when the lock, pyproject.toml and requirements.txt agree."""
    locked = pins(lock_text)
    declared = tomllib.loads(pyproject_text)["project"]["dependencies"]
    found = []
    for spec in map(Requirement, declared):
        version = locked.get(canonicalize_name(spec.name))
        if version is None:
            found.append(f"{spec.name} is declared in pyproject.toml but not locked")
        elif not spec.specifier.contains(version, prereleases=True):
            found.append(f"{spec.name}=={version} in the lock does not satisfy {spec} (pyproject.toml)")
    found += [f"{name} is not locked" for name in ("functions-framework", "gunicorn") if name not in locked]
    if requirements_text != render(lock_text):
        found.append("requirements.txt is not what requirements.lock generates")
    return found


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = problems(LOCK.read_text(), (ROOT / "pyproject.toml").read_text(), REQUIREMENTS.read_text())
        for problem in found:
            sys.stderr.write(f"lock: {problem} (run `make lock`)\n")
        return 1 if found else 0
    REQUIREMENTS.write_text(render(LOCK.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
