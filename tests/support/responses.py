"""Assertions on the functions' answers."""

from __future__ import annotations

from typing import Any


def json_error(resp: Any, status: int) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer with ``status``."""
    assert resp.status_code == status, resp.data[:300]
    assert resp.mimetype == "application/json"
    return dict(resp.get_json()["error"])
