"""The pipeline's one use of a Dagster internal: a sensor that launches a partition backfill.

A sensor's request becomes a backfill (run in policy-sized runs by the backfill daemon, shown on the
Backfills page) only when it is made with ``RunRequest.for_asset_graph_subset``, and the type that
method takes, ``AssetGraphSubset``, is not exported: its docstring says it is left private on
purpose. Every other launcher goes through public API (automation conditions, which emit backfills
themselves). entsoe_pipeline_tests/dagster/test_backfill_request.py builds a request with this
function and runs it through Dagster's own sensor validation, so a Dagster upgrade that moves or
changes the type fails that test, not a sensor tick in production.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset


def backfill_request(
    partitions: Mapping[dg.AssetKey, tuple[dg.PartitionsDefinition, Sequence[str]]],
    tags: Mapping[str, str],
) -> dg.RunRequest:
    """A sensor run request that Dagster runs as one partition backfill: per asset, its partitions
    definition and the keys to fill."""
    subsets = {
        key: definition.subset_with_partition_keys(keys) for key, (definition, keys) in partitions.items()
    }
    return dg.RunRequest.for_asset_graph_subset(
        # Dagster's own constructor; its stubs miss the defaulted field.
        AssetGraphSubset(partitions_subsets_by_asset_key=subsets),  # type: ignore[call-arg]
        tags=dict(tags),
    )
