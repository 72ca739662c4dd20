"""The automation condition, evaluated tick by tick at controlled times."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from dagster._utils.schedules import cron_string_iterator

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.automation import CADENCE_CRON, upcoming_crons
from entsoe_pipeline.defs.partition_checks import check_evaluation
from entsoe_pipeline.defs.partitions import partitions_for
from entsoe_pipeline.storage.windows import next_window_start, window_start
from entsoe_pipeline_tests.dagster.conftest import add_backfill, offline_resources, queue_backfill

SETTINGS = Settings(
    areas=(catalog.area("FR"),),
    endpoints=(catalog.endpoint("actual_load"),),
    history_start=date(2026, 10, 1),
)
KEY = dg.AssetKey(["entsoe", "actual_load", "fr"])
PARTITIONS = partitions_for(catalog.endpoint("actual_load"), SETTINGS.history_start)


def _at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def _defs() -> dg.Definitions:
    return build_defs(SETTINGS, resources=offline_resources())


def _materialized(instance: dg.DagsterInstance, partitions) -> None:
    for p in partitions:
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=KEY, partition=p))


class Ticks:
    """The automation sensor's evaluations, one after the other, on one instance."""

    def __init__(
        self,
        instance: dg.DagsterInstance | None = None,
        settings: Settings = SETTINGS,
        key: dg.AssetKey = KEY,
    ) -> None:
        self.defs = build_defs(settings, resources=offline_resources())
        self.instance = instance or dg.DagsterInstance.ephemeral()
        self.key = key
        self.cursor = None

    def at(self, moment: datetime) -> list[str]:
        result = dg.evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, cursor=self.cursor, evaluation_time=moment
        )
        self.cursor = result.cursor
        return sorted(result.get_requested_partitions(self.key))

    def materialized(self, partitions: list[str]) -> None:
        for p in partitions:
            self.instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=self.key, partition=p))

    def everything_materialized(self, until: date) -> None:
        _materialized(self.instance, _days(SETTINGS.history_start, until))


def test_first_tick_requests_every_partition_never_materialized_back_to_the_history_start():
    assert Ticks().at(_at(11, 29, 9)) == _days(date(2026, 10, 1), date(2026, 11, 29))


def test_nothing_is_requested_again_once_the_partitions_exist():
    ticks = Ticks()
    ticks.at(_at(11, 29, 9))
    ticks.everything_materialized(date(2026, 11, 29))
    assert ticks.at(_at(11, 29, 9, 1)) == []


def test_a_new_day_is_requested_when_it_appears():
    ticks = Ticks()
    ticks.at(_at(11, 28, 23, 50))
    ticks.everything_materialized(date(2026, 11, 28))
    assert ticks.at(_at(11, 29, 0, 1)) == ["2026-11-29"]


def test_the_latest_partitions_are_refreshed_on_the_publication_cadence():
    ticks = Ticks()
    ticks.at(_at(11, 29, 9))
    ticks.everything_materialized(date(2026, 11, 29))
    assert ticks.at(_at(11, 29, 9, 4)) == []
    assert ticks.at(_at(11, 29, 9, 6)) == ["2026-11-28", "2026-11-29"]  # the 09:05 tick passed
    assert ticks.at(_at(11, 29, 9, 7)) == []


def test_the_latest_partitions_are_refreshed_while_a_backfill_over_all_partitions_is_in_flight():
    instance = dg.DagsterInstance.ephemeral()
    add_backfill(instance, KEY, PARTITIONS, "2026-10-01", "2026-11-29")
    ticks = Ticks(instance)
    assert ticks.at(_at(11, 29, 9)) == []  # the backfill will fill them: nothing asked twice
    assert ticks.at(_at(11, 29, 9, 6)) == ["2026-11-28", "2026-11-29"]
    assert ticks.at(_at(11, 29, 9, 7)) == []
    assert ticks.at(_at(11, 29, 9, 36)) == ["2026-11-28", "2026-11-29"]


@dg.definitions
def location() -> dg.Definitions:
    """The definitions Dagster's backfill daemon loads in these tests."""
    return _defs()


def test_the_latest_partitions_are_refreshed_while_a_backfill_run_covering_them_waits_in_the_queue():
    with dg.instance_for_test() as instance:
        # A UI backfill of every partition: the daemon submits its run, which waits in the queue (a
        # backfill queues all its runs at once; a history fill's last run waits behind the others).
        backfill = queue_backfill(
            instance, (__name__, "location"), KEY, PARTITIONS, "2026-10-01", "2026-11-29", _at(11, 29, 8)
        )
        (run,) = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill}))
        assert run.dagster_run.status == dg.DagsterRunStatus.QUEUED
        assert run.dagster_run.tags["dagster/asset_partition_range_end"] == "2026-11-29"
        # Dagster counts the queued run's partitions as in progress.
        status = instance.get_status_by_partition(KEY, ["2026-11-28", "2026-11-29"], PARTITIONS)
        assert set(status.values()) == {dg.AssetPartitionStatus.IN_PROGRESS}

        ticks = Ticks(instance)
        assert ticks.at(_at(11, 29, 9)) == []  # the backfill will fill them: nothing asked twice
        assert ticks.at(_at(11, 29, 9, 6)) == ["2026-11-28", "2026-11-29"]  # the 09:05 refresh
        assert ticks.at(_at(11, 29, 9, 7)) == []
        assert ticks.at(_at(11, 29, 9, 36)) == ["2026-11-28", "2026-11-29"]


def test_a_run_outside_any_backfill_on_the_latest_partitions_holds_their_refresh_back():
    ticks = Ticks()
    ticks.at(_at(11, 29, 9))
    ticks.everything_materialized(date(2026, 11, 29))
    # The store sensor's refill of both days (a run, not a backfill), started and not finished.
    ticks.instance.create_run_for_job(
        job_def=ticks.defs.resolve_implicit_global_asset_job_def(),
        asset_selection=frozenset({KEY}),
        tags={
            "dagster/asset_partition_range_start": "2026-11-28",
            "dagster/asset_partition_range_end": "2026-11-29",
        },
        status=dg.DagsterRunStatus.STARTED,
    )
    assert ticks.at(_at(11, 29, 9, 6)) == []


def test_revision_sweeps_request_their_span_on_their_cron():
    ticks = Ticks()
    ticks.at(_at(12, 2, 2, 40))
    ticks.everything_materialized(date(2026, 12, 2))
    assert ticks.at(_at(12, 2, 2, 45)) == []
    # Wednesday 02:50: the daily sweep of the last 7 days (and the 02:35 refresh of the latest two).
    assert ticks.at(_at(12, 2, 2, 51)) == _days(date(2026, 11, 26), date(2026, 12, 2))
    ticks.at(_at(12, 7, 3, 0))
    ticks.everything_materialized(date(2026, 12, 7))
    ticks.at(_at(12, 7, 3, 5))
    # Monday 03:20: the weekly sweep of 90 days, here back to the history start.
    assert ticks.at(_at(12, 7, 3, 21)) == _days(date(2026, 10, 1), date(2026, 12, 7))


def test_a_failed_partition_is_not_hot_looped_but_retried_on_the_slow_tick(make_simulator):
    from entsoe_pipeline_tests.dagster.conftest import make_resources

    ticks = Ticks()
    ticks.at(_at(11, 29, 9))
    _materialized(
        ticks.instance, [d for d in _days(date(2026, 10, 1), date(2026, 11, 29)) if d != "2026-11-25"]
    )
    # A real failed run of 2026-11-25: the simulator refuses the token, a failure that is not retried.
    failing = build_defs(
        SETTINGS, resources=make_resources(make_simulator().url, "postgresql://x@127.0.0.1:9/x", token="bad")
    )
    result = dg.materialize(
        [failing.resolve_assets_def(KEY)],
        partition_key="2026-11-25",
        instance=ticks.instance,
        raise_on_error=False,
    )
    assert not result.success
    assert ticks.at(_at(11, 29, 9, 1)) == []
    assert "2026-11-25" not in ticks.at(_at(11, 29, 11, 59))
    assert "2026-11-25" in ticks.at(_at(11, 29, 12, 1))


def _upstream_updated(instance, partition: str, *, plausible: bool) -> None:
    """What a run of both upstream assets records: a materialization of the partition and its
    blocking check's result on that materialization."""
    for upstream in (KEY, dg.AssetKey(["entsoe", "day_ahead_load_forecast", "fr"])):
        instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=upstream, partition=partition))
        (materialization,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=upstream, asset_partitions=[partition]), limit=1
        ).records
        result = dg.AssetCheckResult(check_name="plausible_values", passed=plausible)
        instance.report_runless_asset_event(
            check_evaluation(upstream, partition, result, blocking=True, target=materialization)
        )


def _derived_requests(plausible: bool) -> list[str]:
    settings = Settings(
        areas=(catalog.area("FR"),),
        endpoints=(catalog.endpoint("actual_load"), catalog.endpoint("day_ahead_load_forecast")),
        history_start=date(2026, 10, 1),
    )
    defs = build_defs(settings, resources=offline_resources())
    derived = dg.AssetKey(["derived", "load_forecast_error", "fr"])
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=_at(11, 29, 9))
    assert sorted(first.get_requested_partitions(derived)) == []
    _upstream_updated(instance, "2026-11-10", plausible=plausible)
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, cursor=first.cursor, evaluation_time=_at(11, 29, 9, 1)
    )
    return sorted(second.get_requested_partitions(derived))


def test_a_derived_partition_is_recomputed_when_its_upstream_partitions_were_updated():
    assert _derived_requests(plausible=True) == ["2026-11-10"]


def test_a_derived_partition_is_not_computed_from_values_a_blocking_check_found_implausible():
    assert _derived_requests(plausible=False) == []


def _forecast_ticks(name: str, history_start: date) -> Ticks:
    endpoint = catalog.endpoint(name)
    settings = Settings(areas=(catalog.area("FR"),), endpoints=(endpoint,), history_start=history_start)
    return Ticks(settings=settings, key=dg.AssetKey(["entsoe", name, "fr"]))


def test_next_years_forecast_is_not_asked_for_before_mid_december():
    ticks = _forecast_ticks("year_ahead_load_forecast", date(2025, 1, 1))
    # Never materialized in January: this year's and last year's, not next year's.
    assert ticks.at(datetime(2026, 1, 5, 9, tzinfo=UTC)) == ["2025", "2026"]
    ticks.materialized(["2025", "2026"])
    assert ticks.at(datetime(2026, 1, 5, 9, 1, tzinfo=UTC)) == []
    assert ticks.at(datetime(2026, 1, 6, 3, 41, tzinfo=UTC)) == ["2026"]  # the daily 03:40 refresh
    ticks.at(datetime(2026, 12, 16, 3, 30, tzinfo=UTC))
    assert ticks.at(datetime(2026, 12, 16, 3, 41, tzinfo=UTC)) == ["2026"]
    ticks.at(datetime(2026, 12, 16, 3, 42, tzinfo=UTC))
    # Published 15 days before the year: from the 17th next year's is fetched with this year's.
    assert ticks.at(datetime(2026, 12, 17, 3, 41, tzinfo=UTC)) == ["2026", "2027"]


def test_next_years_margin_never_materialized_is_fetched_on_the_first_tick_after_publication():
    ticks = _forecast_ticks("year_ahead_forecast_margin", date(2026, 1, 1))
    assert ticks.at(datetime(2026, 12, 16, 12, tzinfo=UTC)) == ["2026"]
    ticks.materialized(["2026"])
    assert ticks.at(datetime(2026, 12, 16, 12, 1, tzinfo=UTC)) == []
    assert ticks.at(datetime(2026, 12, 17, 3, 41, tzinfo=UTC)) == ["2026", "2027"]


def test_tomorrows_day_ahead_forecast_is_asked_for_only_after_the_noon_auction():
    ticks = _forecast_ticks("day_ahead_load_forecast", date(2026, 11, 20))
    assert ticks.at(_at(11, 29, 5)) == _days(date(2026, 11, 20), date(2026, 11, 29))  # not the 30th
    ticks.materialized(_days(date(2026, 11, 20), date(2026, 11, 29)))
    assert ticks.at(_at(11, 29, 5, 1)) == []
    assert ticks.at(_at(11, 29, 6, 21)) == ["2026-11-29"]  # today only on the 06:20 refresh
    ticks.at(_at(11, 29, 6, 22))
    assert ticks.at(_at(11, 29, 12, 21)) == ["2026-11-29", "2026-11-30"]
    assert ticks.at(_at(11, 29, 12, 22)) == []


def test_revision_sweeps_leave_out_the_partition_not_yet_published():
    ticks = _forecast_ticks("day_ahead_load_forecast", date(2026, 11, 20))
    ticks.at(_at(11, 29, 1))
    ticks.materialized(_days(date(2026, 11, 20), date(2026, 11, 29)))
    assert ticks.at(_at(11, 29, 2)) == []
    # Sunday 02:50: the daily sweep of the last 7 days, without tomorrow (published at noon).
    assert ticks.at(_at(11, 29, 2, 51)) == _days(date(2026, 11, 23), date(2026, 11, 29))


@pytest.mark.parametrize("endpoint", [e for e in catalog.ENDPOINTS.values() if e.published_ahead])
def test_the_next_partition_is_refreshed_on_exactly_the_cadence_ticks_after_its_publication(endpoint):
    """Checked over two common years; a leap February opens a day early (upcoming_crons)."""
    start, end = datetime(2026, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC)

    def ticks(cron: str) -> set[datetime]:
        return set(
            itertools.takewhile(lambda t: t < end, cron_string_iterator(start.timestamp(), cron, "UTC"))
        )

    published = {
        t
        for t in ticks(CADENCE_CRON[endpoint.cadence])
        if catalog.published_by(
            endpoint, next_window_start(window_start(t, endpoint.granularity), endpoint.granularity), t
        )
    }
    assert published
    assert set().union(*(ticks(cron) for cron in upcoming_crons(endpoint))) == published
