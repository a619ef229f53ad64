"""A local PingSource for `make dev`: fires the delta's CloudEvent on the schedule of knative/'s PingSource.

One source of truth: the schedule, time zone, data and content type are read from the PingSource object in
`knative/eventing.yaml` and its namespace from `knative/kustomization.yaml`. The event is the one Knative's
PingSource adapter sends (knative/eventing pkg/adapter/mtping/runner.go, `makeEvent`: type
`dev.knative.sources.ping`, source `/apis/v1/namespaces/<ns>/pingsources/<name>`, the spec's data with its
content type; the CloudEvents client adds a fresh id and the time), in binary mode.

    python -m scripts.pingsource URL [--every 10s]    # --every (or DEV_PING_EVERY) replaces the cron
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
import yaml
from croniter import croniter

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "knative" / "eventing.yaml"


@dataclass(frozen=True)
class PingSource:
    name: str
    namespace: str
    schedule: str
    timezone: str
    data: str
    content_type: str

    @property
    def source(self) -> str:
        return f"/apis/v1/namespaces/{self.namespace}/pingsources/{self.name}"


def load(name: str = "hermes-delta", manifest: Path = MANIFEST) -> PingSource:
    """The PingSource `name` as knative/ declares it."""
    namespace = yaml.safe_load((manifest.parent / "kustomization.yaml").read_text()).get("namespace", "default")
    for doc in yaml.safe_load_all(manifest.read_text()):
        if doc and doc.get("kind") == "PingSource" and doc["metadata"]["name"] == name:
            spec = doc["spec"]
            return PingSource(
                name,
                namespace,
                spec["schedule"],
                spec.get("timezone", "UTC"),
                spec.get("data", ""),
                spec.get("contentType", "text/plain"),
            )
    msg = f"no PingSource {name!r} in {manifest}"
    raise LookupError(msg)


def headers(ping: PingSource, now: datetime) -> dict[str, str]:
    """Binary-mode CloudEvent headers of one tick."""
    return {
        "Ce-Specversion": "1.0",
        "Ce-Type": "dev.knative.sources.ping",
        "Ce-Source": ping.source,
        "Ce-Id": str(uuid.uuid4()),
        "Ce-Time": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "Content-Type": ping.content_type,
    }


def next_tick(ping: PingSource, after: datetime) -> datetime:
    """When the cron schedule fires next, in the PingSource's time zone."""
    return croniter(ping.schedule, after.astimezone(ZoneInfo(ping.timezone))).get_next(datetime)  # type: ignore[no-any-return]


def parse_every(text: str) -> float:
    """`10s`, `2m` or a number of seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    seconds = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    if seconds <= 0:
        msg = f"an interval must be positive, not {text!r}"
        raise ValueError(msg)
    return seconds


def fire(url: str, ping: PingSource) -> int:
    resp = requests.post(url, data=ping.data.encode(), headers=headers(ping, datetime.now(UTC)), timeout=600)
    return resp.status_code


def run(url: str, ping: PingSource, every_s: float | None, stop: threading.Event) -> None:
    """Fire until `stop` is set: every `every_s` seconds, else on the cron schedule."""
    while True:
        now = datetime.now(UTC)
        due = now.timestamp() + every_s if every_s else next_tick(ping, now).timestamp()
        if stop.wait(max(0.0, due - time.time())):
            return
        try:
            status = fire(url, ping)
            sys.stderr.write(f"[pingsource] {ping.name} tick → {status}\n")
        except requests.RequestException as exc:
            sys.stderr.write(f"[pingsource] {ping.name} tick failed: {exc}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--name", default="hermes-delta")
    parser.add_argument("--every", default=None, help="fixed interval instead of the cron schedule (10s, 2m)")
    args = parser.parse_args(argv)
    ping = load(args.name)
    with contextlib.suppress(KeyboardInterrupt):
        run(args.url, ping, parse_every(args.every) if args.every else None, threading.Event())
    return 0


if __name__ == "__main__":
    sys.exit(main())
