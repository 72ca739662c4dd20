"""Cadence schedules request the latest partitions and leave partitions in flight alone."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.partitions import partitions_for

SETTINGS = Settings(history_start=date(2026, 10, 1))
TICK = datetime(2026, 11, 29, 9, 5, tzinfo=UTC)
DE = dg.AssetKey(["entsoe", "actual_load", "de_lu"])


def _evaluate(name: str, instance) -> list[dg.RunRequest]:
    defs = build_defs(SETTINGS, resources={})
    schedule = defs.resolve_schedule_def(name)
    with dg.build_schedule_context(instance=instance, scheduled_execution_time=TICK) as context:
        data = schedule.evaluate_tick(context)
    return list(data.run_requests or [])


def test_actual_schedule_refreshes_today_and_yesterday_for_every_area():
    requests = _evaluate("refresh_actual", dg.DagsterInstance.ephemeral())
    assert sorted(r.partition_key for r in requests) == ["2026-11-28", "2026-11-29"]
    for r in requests:
        assert {k.to_user_string() for k in r.asset_selection} == {
            "entsoe/actual_load/de_lu",
            "entsoe/actual_load/fr",
            "entsoe/actual_load/nl",
        }


def test_forecast_schedule_covers_each_granularity_in_its_own_runs():
    requests = _evaluate("refresh_forecast", dg.DagsterInstance.ephemeral())
    by_partition = {r.partition_key: {k.path[1] for k in r.asset_selection} for r in requests}
    assert by_partition["2026-11-30"] == {"day_ahead_load_forecast"}
    assert by_partition["2026-12-07"] == {"week_ahead_load_forecast"}
    assert by_partition["2027-01-01"] == {"month_ahead_load_forecast"}


def test_schedule_skips_a_partition_a_backfill_is_working_on():
    instance = dg.DagsterInstance.ephemeral()
    partitions = partitions_for(catalog.endpoint("actual_load"), SETTINGS.history_start)
    subset = partitions.empty_subset().with_partition_key_range(
        partitions, dg.PartitionKeyRange("2026-11-29", "2026-11-29")
    )
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=make_new_backfill_id(),
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            asset_graph_subset=AssetGraphSubset(partitions_subsets_by_asset_key={DE: subset}),
            title=None,
            description=None,
            run_config=None,
        )
    )
    requests = _evaluate("refresh_actual", instance)
    today = next(r for r in requests if r.partition_key == "2026-11-29")
    assert DE not in today.asset_selection
    assert len(today.asset_selection) == 2
    yesterday = next(r for r in requests if r.partition_key == "2026-11-28")
    assert DE in yesterday.asset_selection
