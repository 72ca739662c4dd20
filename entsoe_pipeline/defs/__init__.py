"""The Dagster layer: composes the catalogue, the ENTSO-E client and the storage into definitions."""

from entsoe_pipeline.settings import Settings

from .build import build_defs

__all__ = ["Settings", "build_defs"]
