"""The code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

from entsoe_pipeline.defs import build_defs

defs = build_defs()
