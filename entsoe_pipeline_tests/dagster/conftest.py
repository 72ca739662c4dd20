"""Definitions wired to the simulator over HTTP and a fresh TimescaleDB database."""

from __future__ import annotations

import time

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.resources import EntsoeApiResource, TimescaleResource
from entsoe_pipeline.simulator import DEMO_TOKEN


def make_resources(api_url: str, database_url: str, token: str = DEMO_TOKEN) -> dict:
    return {
        "entsoe_api": EntsoeApiResource(token=token, base_url=api_url, max_retries=1),
        "timescale": TimescaleResource(database_url=database_url),
    }


@pytest.fixture
def build_test_defs(simulator, database_url):
    """Returns a function settings -> Definitions using the session's simulator and database."""

    def _build(settings: Settings | None = None, **resource_overrides):
        resources = make_resources(simulator.url, database_url)
        resources.update(resource_overrides)
        return build_defs(settings or Settings(), resources=resources)

    return _build


def offline_resources() -> dict:
    """Resources for tests that evaluate definitions without running anything."""
    return make_resources("http://127.0.0.1:9/api", "postgresql://nobody@127.0.0.1:9/nothing")


def add_backfill(instance, key: dg.AssetKey, partitions_def, first: str, last: str) -> None:
    """Record an active partition backfill of ``key`` over [first, last], as the UI would."""
    subset = partitions_def.empty_subset().with_partition_key_range(
        partitions_def, dg.PartitionKeyRange(first, last)
    )
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=make_new_backfill_id(),
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            asset_graph_subset=AssetGraphSubset(partitions_subsets_by_asset_key={key: subset}),
            title=None,
            description=None,
            run_config=None,
        )
    )
