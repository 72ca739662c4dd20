"""The code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import warnings

import dagster as dg

from entsoe_pipeline.defs import build_defs

# BackfillPolicy is marked beta in Dagster 1.13; the pipeline relies on it knowingly (API-sized
# backfill runs), so this one warning would only repeat for every asset on every load.
warnings.filterwarnings(
    "ignore",
    message="Parameter `backfill_policy` of function `asset` is currently in beta",
    category=dg.BetaWarning,
)

defs = build_defs()
