"""Rate limits per search key and per client address (CONTRACT.md § Search keys and limits).

The algorithm is the ``limits`` library's sliding-window counter over in-process memory: it
costs two counters per caller and smooths the edge of a fixed window. Each function instance
counts on its own, so with N instances behind Knative's activator a caller gets up to N times
the limit in the worst case (docs/operations.md explains, and how to get an exact global limit).
"""

from __future__ import annotations

import ipaddress
import math
import time
from functools import cache
from typing import TYPE_CHECKING

from hermes.errors import RateLimitedError

if TYPE_CHECKING:
    from limits import RateLimitItemPerMinute

# Hops that are the platform's own (Knative's activator and queue-proxy, the cluster's ingress and pod
# networks) are skipped when reading X-Forwarded-For from the right: the first address left is the caller's.
_INTERNAL = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
    )
)


class RateLimiter:
    """Counts requests per caller; :meth:`hit` raises :class:`RateLimitedError` past the limit."""

    def __init__(self) -> None:
        # Imported here: `limits` costs ~30 ms of imports, kept off the cold start of a function without limits.
        from limits.storage import MemoryStorage  # noqa: PLC0415
        from limits.strategies import SlidingWindowCounterRateLimiter  # noqa: PLC0415

        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    def hit(self, caller: str, per_minute: int) -> None:
        """One request of ``caller``, allowed ``per_minute`` requests a minute."""
        item = _per_minute(per_minute)
        if self._limiter.hit(item, caller):
            return
        reset = self._limiter.get_window_stats(item, caller).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        msg = f"more than {per_minute} requests a minute; retry in {wait} s"
        raise RateLimitedError(msg, retry_after_s=wait)


@cache
def _per_minute(amount: int) -> RateLimitItemPerMinute:
    from limits import RateLimitItemPerMinute  # noqa: PLC0415

    return RateLimitItemPerMinute(amount)


def client_address(remote_addr: str | None, forwarded_for: str | None) -> str:
    """The caller's address: the right-most ``X-Forwarded-For`` hop outside internal networks.

    Hops are read from the right because only the right end was written by proxies we run; the left end
    is whatever the caller chose to send, so it is never used. With no external hop (a caller inside the
    cluster, or a load balancer that rewrites sources to internal addresses) the right-most hop counts,
    else the socket's peer: a caller cannot pick its own bucket by sending a header.
    """
    hops = [h.strip() for h in (forwarded_for or "").split(",")]
    for hop in reversed(hops):
        if _address(hop) is not None and not _internal(hop):
            return hop
    last = hops[-1] if hops else ""
    return last if _address(last) is not None else (remote_addr or "unknown")


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _internal(address: str) -> bool:
    ip = _address(address)
    return ip is not None and any(ip in net for net in _INTERNAL)
