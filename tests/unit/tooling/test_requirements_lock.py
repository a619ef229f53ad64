"""The image installs exactly what the lock pins (scripts/lock.py; README § Deploy)."""

from __future__ import annotations

from pathlib import Path

from scripts import lock

ROOT = Path(__file__).resolve().parents[3]


def _files() -> tuple[str, str, str]:
    return (
        (ROOT / "requirements.lock").read_text(),
        (ROOT / "pyproject.toml").read_text(),
        (ROOT / "requirements.txt").read_text(),
    )


def test_the_lock_pyproject_and_requirements_agree() -> None:
    assert lock.problems(*_files()) == []


def test_requirements_pin_everything_and_install_hermes_from_the_source() -> None:
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    assert lines[-1] == "-e ."  # the buildpack's cached dependency layer points at the source being built
    assert all("==" in line for line in lines[:-1])
    assert {"functions-framework", "gunicorn", "elasticsearch", "elastic-transport"} <= {
        line.split("==")[0] for line in lines[:-1]
    }


def test_drift_is_reported() -> None:
    lock_text, pyproject, requirements = _files()
    stale = lock_text.replace("elasticsearch==", "elasticsearch==7.17.0 #")
    assert any("elasticsearch==7.17.0" in p for p in lock.problems(stale, pyproject, requirements))
    added = pyproject.replace('"requests>=2.32,<3",', '"requests>=2.32,<3",\n    "leftpad>=1",')
    assert "leftpad is declared in pyproject.toml but not locked" in lock.problems(lock_text, added, requirements)
    assert any("requirements.txt" in p for p in lock.problems(lock_text, pyproject, requirements + "x\n"))
