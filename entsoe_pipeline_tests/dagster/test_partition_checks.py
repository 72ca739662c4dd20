"""Check results per partition: a run over a range of days reports each check once per day, on
that day's own figures, and each day keeps its own check status (the asset's Checks tab, and what
automation conditions read), so one bad day is named and guards only its own derived partition.

These runs go through entsoe_pipeline/defs/partition_checks.py, the isolated use of Dagster
internals; a Dagster upgrade that changes them fails here."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.dagster_storage import batch_event_writes
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline.simulator import SimulatorConfig, SimulatorServer
from entsoe_pipeline.simulator.server import Reply

from .conftest import make_resources

ACTUAL = catalog.endpoint("actual_load")
DAY_AHEAD = catalog.endpoint("day_ahead_load_forecast")
FR = catalog.area("FR")
KEY = observation_key(ACTUAL, FR)
# The checks about days report per partition; those about ENTSO-E's documents once per run.
CHECKS = {"completeness", "plausible_values"}
RUN_CHECKS = {"resolution_matches", "points_placed"}
SETTINGS = Settings(areas=(FR,), endpoints=(ACTUAL, DAY_AHEAD), history_start=date(2025, 7, 1))
PARTITIONS = partitions_for(ACTUAL, SETTINGS.history_start)
DAYS = [f"2025-07-{d:02d}" for d in range(14, 19)]
BAD_DAY = "2025-07-16"


@pytest.fixture(autouse=True)
def _batched_events(monkeypatch) -> None:
    """As in the code location: a range run's materializations are written in one batch, which
    must be stored before the checks point at them."""
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE", raising=False)
    batch_event_writes()


def _day(key: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(key).replace(tzinfo=UTC)
    return start, start + timedelta(days=1)


def _range(first: str, last: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}


def _run(defs: dg.Definitions, key: dg.AssetKey, instance: dg.DagsterInstance, **kwargs):
    return dg.materialize([defs.resolve_assets_def(key)], instance=instance, raise_on_error=False, **kwargs)


def _range_run(api_url: str, database_url: str):
    """The definitions, an instance and its first run: actual load of FR over ``DAYS``."""
    defs = build_defs(SETTINGS, resources=make_resources(api_url, database_url))
    instance = dg.DagsterInstance.ephemeral()
    return defs, instance, _run(defs, KEY, instance, tags=_range(DAYS[0], DAYS[-1]))


def _evaluations(result) -> dict[str, dict[str, dg.AssetCheckEvaluation]]:
    """Per check, its evaluations by partition (each partition at most once); the per-run checks
    are left out."""
    out: dict[str, dict[str, dg.AssetCheckEvaluation]] = {}
    for e in result.get_asset_check_evaluations():
        if e.check_name in RUN_CHECKS:
            continue
        assert e.partition not in out.setdefault(e.check_name, {}), (e.check_name, e.partition)
        out[e.check_name][e.partition] = e
    return out


def _status(instance: dg.DagsterInstance, check: str) -> dict[str, str]:
    """Each partition's status of ``check`` as the UI shows it on the asset's Checks tab (the
    webserver reads this state for the partition view) and automation conditions read it."""
    check_key = dg.AssetCheckKey(KEY, check)
    state = instance.event_log_storage.get_asset_check_state([(check_key, PARTITIONS)])[check_key]
    return {
        partition: status.value
        for status, subset in state.subsets.items()
        for partition in subset.subset_value.get_partition_keys()
    }


def _stored_extremes(database_url: str) -> dict[str, tuple[float, float]]:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (time AT TIME ZONE 'UTC')::date::text, min(value), max(value) FROM entsoe.observations "
            "WHERE endpoint = 'actual_load' AND area = %s GROUP BY 1",
            (FR.eic,),
        )
        return {day: (low, high) for day, low, high in cur.fetchall()}


def test_a_range_run_reports_each_check_per_day_and_names_the_incomplete_one(
    make_simulator, own_database_url
):
    sim = make_simulator(no_data=(_day(BAD_DAY),))
    defs, instance, result = _range_run(sim.url, own_database_url)

    assert result.success  # completeness warns; it does not fail the run
    evaluations = _evaluations(result)
    assert set(evaluations) == CHECKS
    run_checks = {e.check_name: e for e in result.get_asset_check_evaluations() if e.partition is None}
    assert set(run_checks) == RUN_CHECKS and all(e.passed for e in run_checks.values())
    assert all(sorted(by_day) == DAYS for by_day in evaluations.values())
    completeness = evaluations["completeness"]
    assert [d for d, e in completeness.items() if not e.passed] == [BAD_DAY]
    bad = completeness[BAD_DAY]
    assert bad.severity == dg.AssetCheckSeverity.WARN
    assert bad.description == f"1 of 1 windows incomplete, first {BAD_DAY} 00:00Z: 0 of 24 points"
    assert (bad.metadata["expected_points"].value, bad.metadata["missing_points"].value) == (24, 24)
    for day in set(DAYS) - {BAD_DAY}:
        figures = {k: completeness[day].metadata[k].value for k in ("expected_points", "stored_points")}
        assert figures == {"expected_points": 24, "stored_points": 24}, day
    # Each day's plausibility figures are its own values', not the run's.
    extremes = _stored_extremes(own_database_url)
    plausible = evaluations["plausible_values"]
    assert all(e.passed for e in plausible.values())
    assert plausible[BAD_DAY].description == "no points written"
    for day in set(DAYS) - {BAD_DAY}:
        meta = plausible[day].metadata
        assert (meta["min"].value, meta["max"].value) == extremes[day], day
        assert meta["points"].value == 24
    assert len({plausible[d].metadata["max"].value for d in set(DAYS) - {BAD_DAY}}) > 1

    expected = {day: "FAILED" if day == BAD_DAY else "SUCCEEDED" for day in DAYS}
    assert _status(instance, "completeness") == expected
    assert all(
        _status(instance, name) == dict.fromkeys(DAYS, "SUCCEEDED") for name in CHECKS - {"completeness"}
    )

    # Later runs of other days leave the bad day's status as it was: a range of two days, a range of
    # one day (no partition of its own either) and a single partition (Dagster's own path).
    later = ["2025-07-19", "2025-07-20", "2025-07-21", "2025-07-22"]
    for run in (
        _run(defs, KEY, instance, tags=_range(later[0], later[1])),
        _run(defs, KEY, instance, tags=_range(later[2], later[2])),
        _run(defs, KEY, instance, partition_key=later[3]),
    ):
        assert run.success
        assert len(run.get_asset_check_evaluations()) == len(CHECKS) * len(
            run.get_asset_materialization_events()
        ) + len(RUN_CHECKS)
    assert _status(instance, "completeness") == expected | dict.fromkeys(later, "SUCCEEDED")
    # The history the Checks tab lists for one partition holds that partition's result.
    history = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(KEY, "completeness"), limit=100
    )
    assert Counter(r.partition for r in history) == Counter([*DAYS, *later])
    (bad_record,) = [r for r in history if r.partition == BAD_DAY]
    assert bad_record.event is not None
    assert bad_record.event.dagster_event.event_specific_data.description == bad.description


class _NegativeHour(SimulatorServer):
    """The simulator, publishing one hour of actual load (processType A16) as -1 MW."""

    def __init__(self, config: SimulatorConfig, hour: datetime) -> None:
        super().__init__(config)
        self.hour = hour

    def handle(self, path: str, params: dict[str, str]) -> Reply:
        reply = super().handle(path, params)
        if reply.status != 200 or params.get("processType") != "A16":
            return reply

        def period(match: re.Match[bytes]) -> bytes:
            start = datetime.strptime(match["start"].decode(), "%Y-%m-%dT%H:%MZ").replace(tzinfo=UTC)
            position = (self.hour - start) // timedelta(hours=1) + 1  # FR publishes PT60M
            return re.sub(rb"(<position>%d</position><quantity>)[^<]*" % position, rb"\g<1>-1", match[0])

        periods = rb"<Period><timeInterval><start>(?P<start>[^<]+)</start>.*?</Period>"
        return reply._replace(body=re.sub(periods, period, reply.body, flags=re.S))


@pytest.fixture
def negative_hour_simulator() -> Iterator[SimulatorServer]:
    server = _NegativeHour(SimulatorConfig(), _day(BAD_DAY)[0] + timedelta(hours=9))
    try:
        yield server
    finally:
        server.stop()


def test_a_derived_day_is_not_computed_from_a_day_whose_values_a_blocking_check_found_implausible(
    negative_hour_simulator, own_database_url
):
    defs = build_defs(SETTINGS, resources=make_resources(negative_hour_simulator.url, own_database_url))
    derived = dg.AssetKey(["derived", "load_forecast_error", "fr"])
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)

    actual = _run(defs, KEY, instance, tags=_range(DAYS[0], DAYS[-1]))
    forecast = _run(defs, observation_key(DAY_AHEAD, FR), instance, tags=_range(DAYS[0], DAYS[-1]))

    # The blocking check fails the actual-load run, after every day was stored and recorded.
    assert not actual.success and forecast.success
    failure = next(e for e in actual.all_events if e.is_step_failure)
    assert "blocking asset check failed" in str(failure.event_specific_data.error)
    status = instance.get_status_by_partition(KEY, DAYS, PARTITIONS)
    assert set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}
    plausible = _evaluations(actual)["plausible_values"]
    assert [d for d, e in plausible.items() if not e.passed] == [BAD_DAY]
    assert plausible[BAD_DAY].description == "implausible values for FR: 1 negative values"
    assert plausible[BAD_DAY].metadata["negative_points"].value == 1
    assert plausible[BAD_DAY].blocking
    assert _status(instance, "plausible_values") == {
        day: "FAILED" if day == BAD_DAY else "SUCCEEDED" for day in DAYS
    }

    # Dagster's all_deps_blocking_checks_passed reads each day's status: only the bad day waits.
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert sorted(second.get_requested_partitions(derived)) == [d for d in DAYS if d != BAD_DAY]


def test_a_range_run_failing_on_an_unreadable_day_records_the_checks_of_the_days_it_stored(
    make_simulator, own_database_url
):
    sim = make_simulator(malformed_windows=(_day(BAD_DAY),))
    _, instance, result = _range_run(sim.url, own_database_url)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert f"1 of 5 partitions could not be read and were not stored ({BAD_DAY})" in str(
        failure.event_specific_data.error
    )
    stored = [d for d in DAYS if d != BAD_DAY]
    evaluations = _evaluations(result)
    assert set(evaluations) == CHECKS
    assert all(
        sorted(by_day) == stored and all(e.passed for e in by_day.values()) for by_day in evaluations.values()
    )
    # The checks about documents judge the whole run, which failed: no result.
    assert not [e for e in result.get_asset_check_evaluations() if e.check_name in RUN_CHECKS]
    # The unreadable day has no result: its checks show that the run failed them.
    for name in CHECKS:
        assert _status(instance, name) == dict.fromkeys(stored, "SUCCEEDED") | {BAD_DAY: "EXECUTION_FAILED"}
