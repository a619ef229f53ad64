"""``/health/ready``: Elasticsearch answers and the alias exists; cached briefly."""

from __future__ import annotations

import time

from hermes.client import ElasticsearchStatusError
from hermes.search.reader import Reader


class Readiness:
    """Remembers its last answer for ``ttl_s`` so probes cannot hammer the cluster."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._checked = -float("inf")
        self._result: str | None = None

    def check(self, reader: Reader, alias: str) -> str | None:
        """None when ready, else the reason it is not."""
        now = time.monotonic()
        if now - self._checked < self.ttl_s:
            return self._result
        self._result = self._probe(reader, alias)
        self._checked = now
        return self._result

    @staticmethod
    def _probe(reader: Reader, alias: str) -> str | None:
        from elastic_transport import TransportError  # noqa: PLC0415 - loaded with the transport

        try:
            exists = reader.alias_exists(alias)
        except TransportError as exc:
            return f"Elasticsearch unreachable ({type(exc).__name__})"
        except ElasticsearchStatusError as exc:
            return f"Elasticsearch answered {exc.status}"
        return None if exists else f"alias {alias} does not exist yet"
