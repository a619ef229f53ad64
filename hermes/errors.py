"""The one exception tree. Each class knows its HTTP status and contract ``type``.

Exceptions are mapped to responses at exactly one boundary (``hermes.responses``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hermes.bodies import ErrorBody, ErrorDetail


class HermesError(Exception):
    """Root of every error Hermes raises on purpose."""

    status: int = 500
    type: str = "internal_error"

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.parameter = parameter


class ConfigurationError(HermesError):
    """A setting is missing or invalid; the process must not start."""

    type = "configuration_error"


class BadRequestError(HermesError):
    """A request parameter is invalid."""

    status = 400
    type = "invalid_parameter"


class InvalidRuleError(HermesError):
    """A relevance rule (synonyms, pins, hides) or a rules file is invalid; the message names the rule and field."""

    status = 400
    type = "invalid_rule"


class BadEventError(HermesError):
    """The body is not a valid CloudEvent or its data is invalid."""

    status = 400
    type = "invalid_event"


class UnsupportedEventTypeError(BadEventError):
    """A CloudEvent of a type this function does not handle."""

    type = "unsupported_event_type"


class PayloadTooLargeError(HermesError):
    """A request body over its documented limit."""

    status = 413
    type = "payload_too_large"


class UnauthorizedError(HermesError):
    """A search key is required and is missing, malformed, forged or expired; the message says which."""

    status = 401
    type = "unauthorized"


class RateLimitedError(HermesError):
    """The caller (a key, or a client address) is past its rate; ``retry_after_s`` says when to come back."""

    status = 429
    type = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotFoundError(HermesError):
    """Unknown document or route."""

    status = 404
    type = "not_found"


class MethodNotAllowedError(HermesError):
    """The route exists, the method does not."""

    status = 405
    type = "method_not_allowed"


class ConflictError(HermesError):
    """The operation conflicts with the current state."""

    status = 409
    type = "conflict"


class LoadEndedError(ConflictError):
    """The load was cancelled or failed while this request worked on it; nothing more happens."""

    type = "load_ended"


class LoadInProgressError(ConflictError):
    """Another load holds the lock."""

    type = "load_in_progress"


class LockLostError(ConflictError):
    """The load cannot prove it still holds the lock (taken over, or not renewed for too long); it stops."""

    type = "lock_lost"


class NoFullLoadError(HermesError):
    """A delta was asked for before any full load completed: a precondition, not worth a retry.

    412, not 409: Knative's dispatcher retries 409 (knative/eventing pkg/kncloudevents/retries.go,
    ``SelectiveRetry``), and the next PingSource tick asks again anyway (CONTRACT.md).
    """

    status = 412
    type = "no_full_load"


class UnavailableError(HermesError):
    """Elasticsearch is unreachable or the index does not exist yet (retry later)."""

    status = 503
    type = "service_unavailable"


class UpstreamTimeoutError(HermesError):
    """Elasticsearch did not answer in time."""

    status = 504
    type = "timeout"


class LoadFailedError(HermesError):
    """A load could not complete; nothing served changed. Retrying may help."""

    status = 502
    type = "load_failed"


class SourceError(LoadFailedError):
    """The data source failed (unreachable, bad status, unparseable body)."""

    type = "source_error"


class ErrorBudgetExceededError(LoadFailedError):
    """Too many records or bulk items failed."""

    type = "error_budget_exceeded"


class IndexRejectedError(HermesError):
    """Elasticsearch refused a new index's settings or mappings (an analyzer it lacks, say).

    412, like ``no_full_load``: a precondition of the cluster, which no retry of the same event meets
    (Knative does not retry 412); nothing served changed.
    """

    status = 412
    type = "index_rejected"


class VerificationError(LoadFailedError):
    """The new index failed verification before the alias swap."""

    type = "verification_failed"


class NotGreenError(LoadFailedError):
    """The new index did not reach green health (every replica allocated) in time; the alias did not move."""

    type = "index_not_green"


def error_body(err: HermesError) -> ErrorBody:
    """The contract's error object for ``err``."""
    detail: ErrorDetail = {"type": err.type, "message": err.message}
    if err.parameter is not None:
        detail["parameter"] = err.parameter
    return {"error": detail}
