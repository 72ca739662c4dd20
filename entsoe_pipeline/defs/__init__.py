"""The Dagster layer: composes the catalogue, the ENTSO-E client and the storage into definitions."""

from .build import build_defs
from .settings import Settings

__all__ = ["Settings", "build_defs"]
