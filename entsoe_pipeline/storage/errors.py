"""Typed errors of the storage layer.

Messages name the endpoint, the area and the time range of the batch, never the database password.
"""

from __future__ import annotations


class StorageError(Exception):
    """A write or read against the database failed; a failed write stored nothing."""


class InvalidPoints(StorageError, ValueError):
    """The points handed to the store are not writable (NaN, wrong type, implausible time)."""
