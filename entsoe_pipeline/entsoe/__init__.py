"""The ENTSO-E Transparency Platform layer: the HTTP client and the response parser.

``EntsoeClient.fetch`` gets a window in API-sized requests; ``parse_document`` turns a response body
into one row per point; the errors below are what they raise, and a ``DocumentProblem`` is what a
document contradicted without being refused (a Period dropped in part or whole).
"""

from .chunking import split_window
from .client import DEFAULT_BASE_URL, TOKEN_ENV, EntsoeClient, FetchResult, redact
from .errors import (
    ApiError,
    EntsoeError,
    InvalidRequest,
    MalformedDocument,
    NoMatchingData,
    RateLimited,
    SpanTooLong,
    Unauthorized,
    Unavailable,
)
from .parser import parse_document
from .point_frame import COLUMNS
from .problems import DocumentProblem
from .rate_limit import RateLimiter, shared_limiter
from .xml_safety import MAX_DOCUMENT_BYTES

__all__ = [
    "COLUMNS",
    "DEFAULT_BASE_URL",
    "MAX_DOCUMENT_BYTES",
    "TOKEN_ENV",
    "ApiError",
    "DocumentProblem",
    "EntsoeClient",
    "EntsoeError",
    "FetchResult",
    "InvalidRequest",
    "MalformedDocument",
    "NoMatchingData",
    "RateLimited",
    "RateLimiter",
    "SpanTooLong",
    "Unauthorized",
    "Unavailable",
    "parse_document",
    "redact",
    "shared_limiter",
    "split_window",
]
