"""The code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import warnings

import dagster as dg

from entsoe_pipeline.dagster_storage import batch_event_writes
from entsoe_pipeline.defs import build_defs

# BackfillPolicy is marked beta in Dagster 1.13; the pipeline relies on it knowingly (API-sized
# backfill runs), so this one warning would only repeat for every asset on every load.
warnings.filterwarnings(
    "ignore",
    message="Parameter `backfill_policy` of function `asset` is currently in beta",
    category=dg.BetaWarning,
)
# The same for the links from each asset to its source (code references, beta): three warnings per
# load, in every run worker's log.
for _beta in ("with_source_code_references", "LocalFileCodeReference", "CodeReferencesMetadataValue"):
    warnings.filterwarnings(
        "ignore", message=f"(Function|Class) `{_beta}` is currently in beta", category=dg.BetaWarning
    )
# Partitioned asset checks are a preview in 1.13; the checks of every observation asset use them
# (one result per partition: defs/partition_checks.py), so this would repeat four times per asset.
warnings.filterwarnings(
    "ignore",
    message="Specifying a partitions_def on an AssetCheckSpec is currently in preview",
    category=dg.PreviewWarning,
)

batch_event_writes()
defs = build_defs()
