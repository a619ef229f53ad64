"""Rate limits (the limits library's sliding window) and who the caller is behind Knative's proxies."""

from __future__ import annotations

import pytest

from hermes.errors import RateLimitedError
from hermes.search.ratelimit import RateLimiter, client_address


def test_past_the_rate_the_caller_gets_429_with_a_retry_after() -> None:
    limiter = RateLimiter()
    for _ in range(5):
        limiter.hit("key:a", 5)
    with pytest.raises(RateLimitedError) as caught:
        limiter.hit("key:a", 5)
    assert caught.value.status == 429
    assert 1 <= caught.value.retry_after_s <= 60
    limiter.hit("key:b", 5)  # callers are counted apart


@pytest.mark.parametrize(
    ("remote", "xff", "caller"),
    [
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9", "203.0.113.9"),
        ("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.4.0.7", "203.0.113.9"),  # the left end is the caller's to forge
        ("127.0.0.1", "10.1.1.1, 10.4.0.7", "10.4.0.7"),  # all internal: the right-most, never the caller's pick
        ("127.0.0.1", "203.0.113.9, not-an-address", "203.0.113.9"),
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", "203.0.113.9, 100.64.3.2", "203.0.113.9"),  # a carrier-grade NAT pod network
        (None, None, "unknown"),
    ],
)
def test_the_caller_is_the_right_most_hop_outside_the_cluster(remote: str | None, xff: str | None, caller: str) -> None:
    assert client_address(remote, xff) == caller
