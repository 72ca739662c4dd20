"""The ENTSO-E Transparency Platform layer: response parsing (and, beside it, the HTTP client).

``parse_document`` turns a response body into one row per point; the errors below are what it and
the client raise.
"""

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
from .xml_safety import MAX_DOCUMENT_BYTES

# The HTTP client (EntsoeClient, FetchResult) is exported here once it exists.

__all__ = [
    "COLUMNS",
    "MAX_DOCUMENT_BYTES",
    "ApiError",
    "EntsoeError",
    "InvalidRequest",
    "MalformedDocument",
    "NoMatchingData",
    "RateLimited",
    "SpanTooLong",
    "Unauthorized",
    "Unavailable",
    "parse_document",
]
