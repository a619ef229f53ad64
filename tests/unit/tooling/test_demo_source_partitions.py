"""The demo source's partitions: every record in exactly one, the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scripts import demo_source
from scripts.demo_source import FIRST_VERSION, DemoSource, partition_of, partition_query, stamp

IDS = [f"city-{n}" for n in range(3_000)]


def _records() -> dict[str, dict[str, str]]:
    return {rid: {"id": rid, "updated_at": stamp(FIRST_VERSION)} for rid in IDS}


def test_a_record_lands_in_the_same_partition_whatever_the_process_hash_seed() -> None:
    code = "from scripts.demo_source import partition_of as p; print([p(f'city-{n}', 7) for n in range(200)])"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(seen) == 1
    assert seen.pop().strip() == str([partition_of(f"city-{n}", 7) for n in range(200)])


@pytest.mark.parametrize("count", [1, 2, 4, 7])
def test_every_record_is_in_exactly_one_partition_and_the_partitions_are_balanced(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(demo_source, "PAGE", len(IDS))  # one page holds a whole partition
    source = DemoSource(_records())
    taken: list[str] = []
    sizes = []
    for index in range(count):
        got = [r["id"] for r in source.page(None, None, (index, count))]
        sizes.append(len(got))
        taken += got
    assert sorted(taken) == sorted(IDS)
    assert min(sizes) > len(IDS) / count * 0.85


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"partition": ["1"]}, "partitions"),
        ({"partitions": ["2"]}, "partition"),
        ({"partition": ["x"], "partitions": ["2"]}, "integers"),
        ({"partition": ["2"], "partitions": ["2"]}, "below partitions"),
        ({"partition": ["-1"], "partitions": ["2"]}, "at least 0"),
        ({"partition": ["0"], "partitions": ["0"]}, "between 1 and"),
    ],
)
def test_a_bad_partition_query_is_refused_with_what_is_wrong(query: dict[str, list[str]], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        partition_query(query)


def test_no_partition_query_means_the_whole_source() -> None:
    assert partition_query({"since": ["2025-01-01T00:00:00Z"]}) is None
    assert partition_query({"partition": ["3"], "partitions": ["4"]}) == (3, 4)
