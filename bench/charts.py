"""PNG charts for docs/benchmarks.md, where a picture says more than a median (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib  # noqa: PLC0415 - a dev-only dependency, imported when a chart is drawn

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt  # noqa: PLC0415 - after choosing the backend, as matplotlib requires

    return plt


def latency_cdf(latencies_ms: dict[str, list[float]], clients: int, path: Path) -> None:
    """Cumulative distribution of per-request latency, one line per side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, values in latencies_ms.items():
        ordered = sorted(values)
        share = [(i + 1) / len(ordered) for i in range(len(ordered))]
        ax.plot(ordered, share, label=f"{name} ({len(ordered)} requests)")
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("share of requests at or below")
    ax.set_title(f"Search latency at {clients} concurrent clients: through the function vs direct")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def rss_by_records(memory: dict[int, dict[str, float]], path: Path) -> None:
    """Peak RSS of a full load against the number of records loaded."""
    plt = _pyplot()
    sizes = sorted(memory)
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    bars = ax.bar([f"{n:,}" for n in sizes], [memory[n]["peak_rss_mb"] for n in sizes], color="#2f7f7a")
    ax.bar_label(bars, fmt="%.0f MB")
    ax.set_xlabel("records loaded by one full load")
    ax.set_ylabel("peak RSS of the loading process (MB)")
    ax.set_title("Peak RSS of one full load, by records loaded")
    ax.set_ylim(0, max(memory[n]["peak_rss_mb"] for n in sizes) * 1.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
