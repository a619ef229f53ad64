"""Integers beyond 64 bits in a streamed JSON body, so one record holding one fails alone.

RFC 8259 sets no limit on a number's size, but ijson's C parser (yajl) stops the whole
body at an integer outside the signed 64-bit range ("integer overflow"), and orjson
refuses one on an NDJSON line. Elasticsearch cannot store such a value in a ``long``
either. So the guard rewrites each such integer literal, before the parser sees it,
into a string holding a private marker; :meth:`WideIntegerGuard.find` then names the
field of a record that holds one, and the record is rejected as ``invalid`` while the
load goes on.

The rewrite works on the byte stream chunk by chunk: it tracks whether it is inside a
JSON string (so digits in strings are never touched) and holds back a number or an
escape that a chunk boundary cuts in two. Bodies without a run of 19 digits pass through
after one regular-expression scan per chunk.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

# yajl reads magnitudes up to 2^63 - 1 on either side: even -2^63, a valid int64, overflows there.
_READABLE = range(-(2**63) + 1, 2**63)
# Outside a string: the start of a string, or an integer literal of 19+ digits (no fraction, no exponent).
_TOKEN = re.compile(rb'"|(?<![0-9.eE+-])-?[0-9]{19,}(?![0-9.eE])')
# Inside a string, from just after its opening quote: everything up to and including the closing quote.
_STRING_REST = re.compile(rb'(?:[^"\\]|\\.)*"', re.DOTALL)
# "Are there 19 digits in a row?" in C: digits become "0", every other byte "x" (a regex costs 15x more).
_DIGIT_MAP = bytes(0x30 if 0x30 <= b <= 0x39 else 0x78 for b in range(256))
_LONG_RUN = b"0" * 19
_NUMBER_BYTES = b"0123456789.eE+-"


class WideIntegerGuard:
    """Rewrites integer literals outside the signed 64-bit range into marked strings."""

    def __init__(self) -> None:
        self.marker = f"\x00hermes-wide-integer-{secrets.token_hex(8)}:"
        self.rewritten = 0
        self._in_string = False
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        """The chunk as the parser should see it; a cut-off number or escape waits for the next one."""
        data = self._held + chunk
        self._held = b""
        if _LONG_RUN not in data.translate(_DIGIT_MAP):
            return self._pass(data)
        out: list[bytes] = []
        pos = 0
        while pos < len(data):
            if self._in_string:
                end = _STRING_REST.match(data, pos)
                if end is None:  # the string goes on in the next chunk; keep a lone trailing backslash back
                    rest = data[pos:]
                    tail = len(data) - (len(rest) - len(rest.rstrip(b"\\"))) % 2
                    out.append(data[pos:tail])
                    self._held = data[tail:]
                    return b"".join(out)
                out.append(data[pos : end.end()])
                pos, self._in_string = end.end(), False
                continue
            token = _TOKEN.search(data, pos)
            if token is None:
                out.append(self._hold_number(data[pos:]))
                return b"".join(out)
            if token.group() == b'"':
                out.append(data[pos : token.end()])
                pos, self._in_string = token.end(), True
            elif token.end() == len(data):  # digits up to the chunk's end: the number may go on
                out.append(data[pos : token.start()])
                self._held = data[token.start() :]
                return b"".join(out)
            else:
                out.append(data[pos : token.start()] + self._rewrite(token.group()))
                pos = token.end()
        return b"".join(out)

    def finish(self) -> bytes:
        """What was held back at the end of the body."""
        held, self._held = self._held, b""
        match = _TOKEN.fullmatch(held) if not self._in_string else None
        return self._rewrite(held) if match else held

    def find(self, value: Any, path: str = "") -> str | None:
        """The dotted path of the first marked integer in a parsed record, or None."""
        if isinstance(value, str):
            return path or "record" if value.startswith(self.marker) else None
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, list):
            items = enumerate(value)
        else:
            return None
        for key, item in items:
            found = self.find(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
        return None

    def _pass(self, data: bytes) -> bytes:
        """A chunk without a run of 19 digits, unchanged: only whether it ends inside a string is tracked,
        with byte counts that run in C (the per-string loop of :meth:`feed` cost 15x the parse itself)."""
        cut = len(data) - (len(data) - len(data.rstrip(b"\\"))) % 2  # a lone trailing backslash waits
        out = self._hold_number(data[:cut])
        self._held += data[cut:]
        plain = out.replace(b"\\\\", b"")  # escaped backslashes; what is left of "\" precedes an escaped byte
        if (plain.count(b'"') - plain.count(b'\\"')) % 2:
            self._in_string = not self._in_string
        return out

    def _hold_number(self, data: bytes) -> bytes:
        cut = len(data.rstrip(_NUMBER_BYTES))  # a number the chunk's end may have cut (rstrip runs in C)
        self._held = data[cut:]
        return data[:cut]

    def _rewrite(self, literal: bytes) -> bytes:
        if int(literal) in _READABLE:
            return literal
        self.rewritten += 1
        return b'"' + self.marker.encode().replace(b"\x00", b"\\u0000") + literal + b'"'
