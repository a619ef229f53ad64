"""The search function's reads, over the light transport (``hermes.client.get_transport``).

Answers with an error status raise ``ElasticsearchStatusError``, connection failures
raise elastic_transport's own errors; ``hermes.client.translate`` turns both into
Hermes errors at the response boundary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from hermes.client import ElasticsearchStatusError, error_type

if TYPE_CHECKING:
    from elastic_transport import Transport, TransportApiResponse


_JSON = {"accept": "application/json", "content-type": "application/json"}
_ACCEPT = {"accept": "application/json"}


class Reader:
    """Search, get by id, alias existence and mapping ``_meta``, against one cluster."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /<index>/_search``."""
        return _ok(self.transport.perform_request("POST", f"/{quote(index)}/_search", body=body, headers=_JSON))

    def get(self, index: str, doc_id: str) -> dict[str, Any] | None:
        """``GET /<index>/_doc/<id>``; None when the document does not exist."""
        resp = self.transport.perform_request("GET", f"/{quote(index)}/_doc/{quote(doc_id, safe='')}", headers=_ACCEPT)
        if resp.meta.status == 404 and error_type(resp.body) == "unknown":
            return None  # the index exists, the document does not
        return _ok(resp)

    def mapping_meta(self, alias: str) -> dict[str, dict[str, Any]]:
        """Each index behind ``alias`` with its mapping ``_meta``; {} when the alias does not exist."""
        path = f"/{quote(alias)}/_mapping?filter_path=*.mappings._meta"
        resp = self.transport.perform_request("GET", path, headers=_ACCEPT)
        if resp.meta.status == 404:
            return {}
        found = _ok(resp)
        return {name: dict(body.get("mappings", {}).get("_meta", {})) for name, body in found.items()}

    def alias_exists(self, alias: str) -> bool:
        """``HEAD /_alias/<alias>``."""
        resp = self.transport.perform_request("HEAD", f"/_alias/{quote(alias)}", headers=_ACCEPT)
        if resp.meta.status == 404:
            return False
        _ok(resp)
        return True


def _ok(resp: TransportApiResponse) -> dict[str, Any]:
    if 200 <= resp.meta.status < 300:
        return resp.body if isinstance(resp.body, dict) else {}
    raise ElasticsearchStatusError(resp.meta.status, resp.body)
