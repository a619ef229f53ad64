"""Where a sliced full load stands in its source: the page being read and how much of it is loaded.

A :class:`Cursor` is what a slice checkpoints and the next slice resumes from. The reader
(``sources.read_from``) moves it as it hands out records: ``url`` is the page being read
(a ``next`` link followed, or the partition's first URL), ``offset`` how many records of that
page were handed out. Between pages the reader yields :data:`PAGE_END`, a point where a
slice can stop without re-reading anything; ``url`` is then the next page (``None``: the
partition is read to its end). A file has one page: resuming re-reads it and skips ``offset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit, urlunsplit


class _PageEnd:
    def __repr__(self) -> str:
        return "PAGE_END"


PAGE_END: Final = _PageEnd()


@dataclass
class Cursor:
    """A partition's reading position (see the module docstring)."""

    url: str | None
    offset: int = 0
    pages: int = 0  # pages requested through this cursor (one slice's share of the source's request log)

    @property
    def done(self) -> bool:
        """The partition is read to its end."""
        return self.url is None

    def stored(self) -> dict[str, Any]:
        return {"url": self.url, "offset": self.offset}

    @classmethod
    def from_stored(cls, doc: dict[str, Any]) -> Cursor:
        return cls(doc.get("url"), int(doc.get("offset", 0)))


def with_query(url: str, **params: str) -> str:
    """``url`` with ``params`` added to its query; the source's own parameters stay byte for byte."""
    parts = urlsplit(url)
    added = urlencode(params)
    return urlunsplit(parts._replace(query=f"{parts.query}&{added}" if parts.query else added))


@dataclass(frozen=True)
class Partition:
    """Partition ``index`` of ``count`` (CONTRACT.md § Documents: ``?partition=<i>&partitions=<n>``)."""

    index: int = 0
    count: int = 1

    def first_url(self, url: str) -> str:
        """The partition's first page: ``url`` itself when the load has one partition (any source works)."""
        if self.count == 1 or url.startswith("file://"):
            return url
        return with_query(url, partition=str(self.index), partitions=str(self.count))

    def holds(self, position: int) -> bool:
        """Whether the record at ``position`` of a file belongs here (files are split round-robin)."""
        return position % self.count == self.index
