"""The store sensor against a real database: gaps in materialized partitions, the freshness of each
series (its _newest companion) and the refill of series whose data is not current."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.defs import Settings, build_defs, targets
from entsoe_pipeline.defs.freshness import newest_key
from entsoe_pipeline.defs.gaps import Gap, GapCursor, contiguous_runs
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline_tests.dagster.conftest import offline_resources, queue_backfill

FR = catalog.area("FR")
ACTUAL = catalog.endpoint("actual_load")
KEY = observation_key(ACTUAL, FR)
NEWEST = newest_key(ACTUAL, FR)
NOW = datetime(2025, 7, 12, 12, tzinfo=UTC)


@pytest.fixture
def database_url(own_database_url):
    """A database per test: the sensor reads every series' newest point, whoever wrote it."""
    return own_database_url


def _settings(now: datetime = NOW) -> Settings:
    return Settings(areas=(FR,), endpoints=(ACTUAL,), history_start=date(2025, 7, 1), clock=lambda: now)


def _gap(day: int) -> Gap:
    start = datetime(2025, 7, day, tzinfo=UTC)
    return Gap(f"2025-07-{day:02d}", start, start + timedelta(days=1))


def test_contiguous_runs_split_at_holes_in_time_order():
    runs = contiguous_runs([_gap(5), _gap(1), _gap(2), _gap(4)])
    assert [[g.partition for g in run] for run in runs] == [
        ["2025-07-01", "2025-07-02"],
        ["2025-07-04", "2025-07-05"],
    ]


def test_cursor_retries_with_growing_pauses_up_to_a_day_and_never_gives_up():
    cursor = GapCursor()
    gap = _gap(3)
    t = gap.start.timestamp()
    assert cursor.may_launch("k", t, 0)
    cursor.update("k", [gap], {gap.partition}, 0)
    assert not cursor.may_launch("k", t, 1800)
    assert cursor.may_launch("k", t, 3600)
    now = 3600.0
    for launches in range(1, 12):
        cursor.update("k", [gap], {gap.partition}, now)
        wait = min(3600 * 2**launches, 86400)
        assert not cursor.may_launch("k", t, now + wait - 1)
        assert cursor.may_launch("k", t, now + wait)
        now += wait
    assert GapCursor.parse(json.loads(json.dumps(cursor.dump()))) == cursor


def test_cursor_stores_runs_of_partitions_launched_together_as_one_entry():
    cursor = GapCursor()
    gaps = [_gap(d) for d in range(1, 31)]
    cursor.update("k", gaps, {g.partition for g in gaps}, 100.0)
    assert len(cursor.launched["k"]) == 1
    # Complete partitions drop out; the rest keep their state.
    cursor.update("k", gaps[10:], set(), 200.0)
    assert cursor.launched["k"] == [(gaps[10].start.timestamp(), gaps[-1].end.timestamp(), 1, 100.0)]
    cursor.update("k", [], set(), 300.0)
    assert "k" not in cursor.launched


def _load_history(build_test_defs, instance, settings: Settings) -> dg.Definitions:
    defs = build_test_defs(settings)
    result = dg.materialize(
        [defs.resolve_assets_def(KEY)],
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": "2025-07-01",
            "dagster/asset_partition_range_end": "2025-07-11",
        },
    )
    assert result.success
    return defs


def _delete(database_url: str, start: str, end: str) -> None:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= %s AND time < %s",
            (FR.eic, start, end),
        )


def _tick(defs: dg.Definitions, instance, cursor=None):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        return defs.resolve_sensor_def("store_sensor").evaluate_tick(context)


def _launched_by(result, launcher: str) -> list[dg.RunRequest]:
    return [r for r in result.run_requests or [] if r.tags.get("launched_by") == launcher]


def test_a_large_gap_becomes_a_backfill_and_a_small_one_a_run(build_test_defs, database_url):
    instance = dg.DagsterInstance.ephemeral()
    defs = _load_history(build_test_defs, instance, _settings())
    _delete(database_url, "2025-07-03", "2025-07-06")  # three days: a backfill
    _delete(database_url, "2025-07-08 10:00", "2025-07-08 12:00")  # two hours: one run
    result = _tick(defs, instance)
    gaps = _launched_by(result, "gap")
    backfills = [r for r in gaps if r.requires_backfill_daemon()]
    runs = [r for r in gaps if not r.requires_backfill_daemon()]
    assert len(backfills) == 1
    subset = backfills[0].asset_graph_subset.get_partitions_subset(KEY)
    assert sorted(subset.get_partition_keys()) == ["2025-07-03", "2025-07-04", "2025-07-05"]
    assert [(r.asset_selection, r.partition_key) for r in runs] == [([KEY], "2025-07-08")]

    again = _tick(defs, instance, cursor=result.cursor)
    assert _launched_by(again, "gap") == []


def test_series_beyond_the_status_reads_of_a_tick_are_left_for_the_next_tick(
    build_test_defs, database_url, monkeypatch
):
    instance = dg.DagsterInstance.ephemeral()
    defs = _load_history(build_test_defs, instance, _settings())
    _delete(database_url, "2025-07-03", "2025-07-06")
    monkeypatch.setattr(targets, "STATUS_READS_PER_TICK", 0)
    deferred = _tick(defs, instance)
    assert _launched_by(deferred, "gap") == []
    assert "left for the next tick" in (deferred.skip_message or "")
    monkeypatch.undo()
    later = _tick(defs, instance, cursor=deferred.cursor)
    (backfill,) = _launched_by(later, "gap")
    assert sorted(backfill.asset_graph_subset.get_partitions_subset(KEY).get_partition_keys()) == [
        "2025-07-03",
        "2025-07-04",
        "2025-07-05",
    ]


def test_partitions_never_materialized_are_left_to_the_automation(build_test_defs, database_url):
    instance = dg.DagsterInstance.ephemeral()
    defs = build_test_defs(_settings())  # nothing materialized: every partition is the automation's
    result = _tick(defs, instance)
    assert _launched_by(result, "gap") == []


def test_store_sensor_stops_asking_for_windows_the_api_confirmed_empty(build_test_defs, database_url):
    instance = dg.DagsterInstance.ephemeral()
    defs = _load_history(build_test_defs, instance, _settings())
    _delete(database_url, "2025-07-09", "2025-07-10")
    start, end = datetime(2025, 7, 9, tzinfo=UTC), datetime(2025, 7, 10, tzinfo=UTC)
    for _ in range(_settings().max_empty_tries):
        storage.record_empty_window(database_url, "actual_load", FR.eic, start, end)
    result = _tick(defs, instance)
    assert all(r.partition_key != "2025-07-09" for r in _launched_by(result, "gap"))
    assert not any(r.requires_backfill_daemon() for r in _launched_by(result, "gap"))


def test_many_scattered_holes_of_one_asset_become_one_backfill_not_a_flood_of_runs(
    build_test_defs, database_url
):
    instance = dg.DagsterInstance.ephemeral()
    defs = _load_history(build_test_defs, instance, _settings())
    for day in (1, 3, 5, 7, 10, 11):  # not 07-09: another test may have confirmed it empty
        _delete(database_url, f"2025-07-{day:02d} 05:00", f"2025-07-{day:02d} 06:00")
    (request,) = _launched_by(_tick(defs, instance), "gap")
    subset = request.asset_graph_subset.get_partitions_subset(KEY)
    assert sorted(subset.get_partition_keys()) == [f"2025-07-{d:02d}" for d in (1, 3, 5, 7, 10, 11)]


def test_a_current_series_is_confirmed_and_a_stale_one_is_refilled(build_test_defs, database_url):
    instance = dg.DagsterInstance.ephemeral()
    # Data up to the end of 07-11: at 07-12 01:00 that is current (actual data is due two hours
    # after real time), at 07-12 12:00 ten hours overdue, beyond the two hours tolerated.
    current = datetime(2025, 7, 12, 1, tzinfo=UTC)
    defs = _load_history(build_test_defs, instance, _settings(current))
    first = _tick(defs, instance)
    (confirmation,) = first.asset_events
    assert confirmation.asset_key == NEWEST
    assert confirmation.metadata["data_until"].value == datetime(2025, 7, 12, tzinfo=UTC).timestamp()
    assert _launched_by(first, "freshness") == []
    assert _tick(defs, instance, cursor=first.cursor).asset_events == []  # nothing new to confirm

    stale_defs = build_test_defs(_settings(NOW))
    stale = _tick(stale_defs, instance, cursor=first.cursor)
    assert stale.asset_events == []  # the companion is not confirmed: its freshness runs out
    (refill,) = _launched_by(stale, "freshness")
    assert (refill.asset_selection, refill.partition_key) == ([KEY], "2025-07-12")
    # Asked once per retry interval: the next tick's request has the same run key.
    assert (
        _launched_by(_tick(stale_defs, instance, cursor=stale.cursor), "freshness")[0].run_key
        == refill.run_key
    )


def test_a_series_is_not_refilled_while_a_run_works_on_its_latest_partitions(build_test_defs, database_url):
    instance = dg.DagsterInstance.ephemeral()
    defs = _load_history(build_test_defs, instance, _settings())
    # A run of today's partition that has started and not finished, as Dagster records it.
    run = instance.create_run_for_job(
        job_def=defs.resolve_implicit_global_asset_job_def(),
        asset_selection=frozenset({KEY}),
        tags={"dagster/partition": "2025-07-12"},
        status=dg.DagsterRunStatus.STARTED,
    )
    assert run.status == dg.DagsterRunStatus.STARTED
    assert _launched_by(_tick(defs, instance), "freshness") == []


@dg.definitions
def location() -> dg.Definitions:
    """The definitions Dagster's backfill daemon loads in these tests."""
    return build_defs(_settings(), resources=offline_resources())


def test_a_stale_series_is_refilled_while_a_backfill_run_covering_its_latest_partitions_waits_in_the_queue(
    build_test_defs, database_url
):
    with dg.instance_for_test() as instance:
        defs = _load_history(build_test_defs, instance, _settings())  # data up to 07-12 00:00: stale
        partitions = partitions_for(ACTUAL, _settings().history_start)
        # A UI backfill of every partition whose run waits in the queue: Dagster shows today's
        # partition in progress until the run starts, which may take hours behind a history fill.
        queue_backfill(instance, (__name__, "location"), KEY, partitions, "2025-07-01", "2025-07-12", NOW)
        status = instance.get_status_by_partition(KEY, ["2025-07-12"], partitions)
        assert status == {"2025-07-12": dg.AssetPartitionStatus.IN_PROGRESS}
        (refill,) = _launched_by(_tick(defs, instance), "freshness")
        assert (refill.asset_selection, refill.partition_key) == ([KEY], "2025-07-12")


def test_areas_of_an_endpoint_that_fell_behind_together_are_refilled_in_one_run(build_test_defs):
    # A new installation: nothing stored, nothing materialized. One run per endpoint and partitions,
    # not a run worker per series.
    nl = catalog.area("NL")
    settings = Settings(
        areas=(FR, nl),
        endpoints=(ACTUAL, catalog.endpoint("day_ahead_load_forecast")),
        history_start=date(2025, 7, 1),
        clock=lambda: NOW,
    )
    refills = _launched_by(_tick(build_test_defs(settings), dg.DagsterInstance.ephemeral()), "freshness")
    assert sorted((sorted(k.to_user_string() for k in r.asset_selection)) for r in refills) == [
        ["entsoe/actual_load/fr", "entsoe/actual_load/nl"],
        ["entsoe/day_ahead_load_forecast/fr", "entsoe/day_ahead_load_forecast/nl"],
    ]
    actual = next(r for r in refills if KEY in r.asset_selection)
    # From the history start (the series' data stops nowhere) up to today, one request's worth.
    assert (
        actual.tags["dagster/asset_partition_range_start"],
        actual.tags["dagster/asset_partition_range_end"],
    ) == (
        "2025-07-01",
        "2025-07-12",
    )
