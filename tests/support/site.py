"""A search function process over a freshly full-loaded alias: what the browser and fuzz tests talk to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from hermes.client import build_client
from hermes.load.full import full_load
from hermes.settings import to_environ
from tests.support.process import running

if TYPE_CHECKING:
    from hermes.settings import Settings


@contextmanager
def search_site(conf: Settings) -> Iterator[str]:
    """Full-load ``conf``'s source into its alias, serve it with the search function; yield the base URL.

    The alias's indices and state index are deleted afterwards.
    """
    client = build_client(conf)
    try:
        full_load(client, conf)
        with running("search", "search", to_environ(conf)) as url:
            yield url
    finally:
        names = client.indices.get(index=f"{conf.es_index}-*,{conf.es_index}.hermes-state", ignore_unavailable=True)
        if names:
            client.indices.delete(index=",".join(names))
        client.close()
