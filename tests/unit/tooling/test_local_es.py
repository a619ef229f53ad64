"""scripts/local_es.py picks a JDK each Elasticsearch major runs on, so one machine runs the whole matrix."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import local_es


def jdk(root: Path, name: str, release: str) -> Path:
    """A fake JDK home: what `java_major` reads is the `release` file every JDK image ships."""
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").touch()
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{release}"\n')
    return home


@pytest.fixture
def jdks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Java 17, 21 and 25 under a JDK root, and nothing else on PATH or in JAVA_HOME."""
    found = {major: jdk(tmp_path, f"jdk-{major}", f"{major}.0.1") for major in ("25", "17", "21")}
    monkeypatch.setattr(local_es, "JDK_ROOTS", (tmp_path,))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    return found


@pytest.mark.parametrize(("version", "floor"), [("8.11.4", 17), ("8.19.21", 17), ("9.0.0", 21), ("9.5.4", 21)])
def test_the_java_floor_follows_the_major(version: str, floor: int) -> None:
    assert local_es.java_floor(version) == floor


def test_java_major_reads_the_release_file(tmp_path: Path) -> None:
    assert local_es.java_major(jdk(tmp_path, "a", "25.0.3")) == 25
    assert local_es.java_major(jdk(tmp_path, "b", "1.8.0_402")) == 8
    assert local_es.java_major(tmp_path / "not-a-jdk") is None


def test_each_major_gets_the_oldest_jdk_that_runs_it(jdks: dict[str, Path]) -> None:
    # 8.x on 17, not 25: Elasticsearch 8.11 asks for the Security Manager, which Java 24 removed.
    assert local_es.java_home("8.11.4") == str(jdks["17"])
    assert local_es.java_home("9.5.4") == str(jdks["21"])


def test_the_version_comes_from_the_environment_at_each_call(
    jdks: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert local_es.es_version() == local_es.DEFAULT_ES_VERSION
    monkeypatch.setenv("HERMES_ES_VERSION", "9.5.4")
    assert local_es.es_version() == "9.5.4"
    assert local_es.java_home() == str(jdks["21"])


def test_hermes_java_homes_adds_a_jdk_found_nowhere_else(
    jdks: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(local_es, "JDK_ROOTS", ())
    extra = jdk(tmp_path / "elsewhere", "runtime", "25.0.2")
    monkeypatch.setenv("HERMES_JAVA_HOMES", str(extra))
    assert local_es.java_home("9.5.4") == str(extra)


def test_no_jdk_new_enough_names_what_was_found(jdks: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_es, "JDK_ROOTS", (jdks["17"].parent,))
    for major in ("21", "25"):
        (jdks[major] / "release").unlink()
    with pytest.raises(SystemExit, match=r"9\.5\.4 needs Java 21\+; JDKs found: .*jdk-17 \(Java 17\)"):
        local_es.java_home("9.5.4")


def test_es_java_home_wins_but_not_below_the_floor(jdks: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ES_JAVA_HOME", str(jdks["25"]))
    assert local_es.java_home("9.5.4") == str(jdks["25"])
    monkeypatch.setenv("ES_JAVA_HOME", str(jdks["17"]))
    with pytest.raises(SystemExit, match=r"ES_JAVA_HOME=.* is Java 17; Elasticsearch 9\.5\.4 needs Java 21"):
        local_es.java_home("9.5.4")
