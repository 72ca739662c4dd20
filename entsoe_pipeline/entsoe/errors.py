"""Typed errors of the ENTSO-E layer: callers branch on the type, users read the message.

Messages name the endpoint, area and window (or the request without its token), never the token.
"""

from __future__ import annotations


class EntsoeError(Exception):
    """Base class of every error the ENTSO-E layer raises."""


class ApiError(EntsoeError):
    """The API answered with an Acknowledgement_MarketDocument (reason code and text)."""

    def __init__(self, message: str, *, reason_code: str = "", reason_text: str = "") -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.reason_text = reason_text


class NoMatchingData(ApiError):
    """A valid query for which ENTSO-E has published nothing: an empty result, not a failure."""


class InvalidRequest(ApiError):
    """The API rejected the request (HTTP 400 or an Acknowledgement): fix the request, do not retry."""


class SpanTooLong(InvalidRequest):
    """The window exceeds what the API allows per request; ``max_span_hint`` is its ISO duration."""

    def __init__(
        self, message: str, *, reason_code: str = "", reason_text: str = "", max_span_hint: str | None = None
    ) -> None:
        super().__init__(message, reason_code=reason_code, reason_text=reason_text)
        self.max_span_hint = max_span_hint


class Unauthorized(EntsoeError):
    """Missing or invalid security token (HTTP 401), or a token the client will not send (below)."""


class InsecureTransport(Unauthorized):
    """The base URL would carry the token unencrypted (plain http:// to another machine): a
    configuration error raised when the client is built. An Unauthorized, so callers fail fast."""


class RedirectRefused(Unauthorized):
    """The API redirected to another scheme or host: following would hand that host the token."""


class RateLimited(EntsoeError):
    """HTTP 429: too many requests; ``retry_after`` is seconds to wait when the API said so."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(EntsoeError):
    """The platform did not answer usefully (5xx, 404 during migrations, timeouts, resets)."""


class MalformedDocument(EntsoeError):
    """The body is not a document the parser can read (bad XML, unknown root, size limits)."""


class BodyTooLarge(MalformedDocument):
    """The body is larger than the client's limit; it was refused while streaming, not buffered."""
