"""The one Dagster internal the pipeline uses (defs/backfill_request.py), held to what the store
sensor relies on: the request is a backfill, it carries exactly the partitions asked for, and
Dagster's own sensor validation accepts it. A Dagster upgrade that moves or changes the type fails
here."""

from __future__ import annotations

import dagster as dg
import pytest

from entsoe_pipeline.defs.backfill_request import backfill_request

DAILY = dg.DailyPartitionsDefinition(start_date="2025-01-01", end_date="2025-02-01")
KEYS = ["2025-01-03", "2025-01-04", "2025-01-09"]


@dg.asset(key=["entsoe", "example", "a"], partitions_def=DAILY)
def first() -> None: ...


@dg.asset(key=["entsoe", "example", "b"], partitions_def=DAILY)
def second() -> None: ...


def _request() -> dg.RunRequest:
    return backfill_request(
        {first.key: (DAILY, KEYS), second.key: (DAILY, KEYS[:1])},
        {"launched_by": "gap", "dagster/priority": "-1"},
    )


def test_the_request_is_a_backfill_of_exactly_the_partitions_asked_for():
    request = _request()
    assert request.requires_backfill_daemon()
    subset = request.asset_graph_subset
    assert subset is not None
    assert set(subset.asset_keys) == {first.key, second.key}
    assert sorted(subset.get_partitions_subset(first.key).get_partition_keys()) == KEYS
    assert list(subset.get_partitions_subset(second.key).get_partition_keys()) == KEYS[:1]
    assert request.tags["launched_by"] == "gap"


def _sensor(selection: dg.AssetSelection) -> dg.SensorDefinition:
    @dg.sensor(name="launcher", asset_selection=selection)
    def launcher(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        return dg.SensorResult(run_requests=[_request()])

    return launcher


def test_dagster_sensor_validation_accepts_the_request():
    sensor = _sensor(dg.AssetSelection.assets(first, second))
    defs = dg.Definitions(assets=[first, second], sensors=[sensor])
    with dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs) as context:
        data = sensor.evaluate_tick(context)
    (request,) = data.run_requests or []
    assert request.requires_backfill_daemon()
    assert sorted(request.asset_graph_subset.get_partitions_subset(first.key).get_partition_keys()) == KEYS


def test_the_validation_is_real_an_asset_outside_the_selection_is_refused():
    sensor = _sensor(dg.AssetSelection.assets(first))
    defs = dg.Definitions(assets=[first, second], sensors=[sensor])
    instance = dg.DagsterInstance.ephemeral()
    with (
        dg.build_sensor_context(instance=instance, definitions=defs) as context,
        pytest.raises(dg.DagsterInvalidSubsetError),
    ):
        sensor.evaluate_tick(context)
