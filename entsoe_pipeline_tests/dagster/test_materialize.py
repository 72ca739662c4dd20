"""Materialize observation assets in-process against the simulator and a real TimescaleDB."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from entsoe_pipeline import catalog
from entsoe_pipeline.defs import Settings
from entsoe_pipeline.defs.observations import observation_key
from entsoe_pipeline.simulator import SimulatorConfig, SimulatorServer
from entsoe_pipeline.simulator.server import Reply

from .conftest import make_resources

ACTUAL = catalog.endpoint("actual_load")


def _rows(database_url: str, endpoint: str, area: str, start: str, end: str) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s AND area = %s "
            "AND time >= %s AND time < %s",
            (endpoint, catalog.area(area).eic, start, end),
        )
        return cur.fetchone()[0]


def _materialize(defs: dg.Definitions, key: dg.AssetKey, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [defs.resolve_assets_def(key)],
        instance=kwargs.pop("instance", None) or dg.DagsterInstance.ephemeral(),
        **kwargs,
    )


@pytest.mark.parametrize(("area", "points"), [("DE_LU", 96), ("FR", 24), ("NL", 96)])
def test_one_day_of_actual_load_lands_in_timescaledb(build_test_defs, database_url, area, points):
    defs = build_test_defs()
    key = observation_key(ACTUAL, catalog.area(area))
    result = _materialize(defs, key, partition_key="2025-06-02")
    assert result.success
    assert _rows(database_url, "actual_load", area, "2025-06-02", "2025-06-03") == points
    meta = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0].metadata
    assert meta["dagster/row_count"].value == points
    assert meta["run_requests"].value == 1
    assert meta["resolution"].value == ("PT60M" if area == "FR" else "PT15M")


def test_rematerializing_a_partition_leaves_the_row_count_unchanged(build_test_defs, database_url):
    defs = build_test_defs()
    key = observation_key(ACTUAL, catalog.area("DE_LU"))
    _materialize(defs, key, partition_key="2025-06-03")
    again = _materialize(defs, key, partition_key="2025-06-03")
    assert _rows(database_url, "actual_load", "DE_LU", "2025-06-03", "2025-06-04") == 96
    meta = again.asset_materializations_for_node(again.all_node_events[0].node_name)[0].metadata
    assert meta["rows_inserted"].value == 0
    assert meta["rows_unchanged"].value == 96


def test_a_range_run_fetches_once_and_records_each_partition(build_test_defs, database_url):
    defs = build_test_defs()
    key = observation_key(ACTUAL, catalog.area("FR"))
    result = _materialize(
        defs,
        key,
        tags={
            "dagster/asset_partition_range_start": "2025-07-01",
            "dagster/asset_partition_range_end": "2025-07-10",
        },
    )
    assert result.success
    materializations = result.asset_materializations_for_node(result.all_node_events[0].node_name)
    assert sorted(m.partition for m in materializations) == [f"2025-07-{d:02d}" for d in range(1, 11)]
    assert {m.metadata["run_requests"].value for m in materializations} == {1}
    # Each partition carries its own figures, not the run's totals.
    assert {m.metadata["dagster/row_count"].value for m in materializations} == {24}
    assert {
        sum(m.metadata[f"rows_{kind}"].value for kind in ("inserted", "updated", "unchanged"))
        for m in materializations
    } == {24}
    first = {m.partition: m.metadata["first_point"].value for m in materializations}
    assert first["2025-07-04"] == datetime(2025, 7, 4, tzinfo=UTC).timestamp()
    assert _rows(database_url, "actual_load", "FR", "2025-07-01", "2025-07-11") == 240
    # The figures Dagster plots across partitions are each day's own, rounded as the data is.
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT (time AT TIME ZONE 'UTC')::date::text, avg(value), min(value), max(value) "
            "FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= '2025-07-01' AND time < '2025-07-11' GROUP BY 1",
            (catalog.area("FR").eic,),
        )
        stored = {day: figures for day, *figures in cur.fetchall()}
    for m in materializations:
        mean, low, high = stored[m.partition]
        assert m.metadata["mean"].value == pytest.approx(mean, abs=0.05)
        assert (m.metadata["min"].value, m.metadata["max"].value) == (low, high)
        assert m.metadata["unit"].value == "MW"
        # Its preview shows its own day alone, with the same figures.
        preview = m.metadata["preview"].value
        rows = [line for line in preview.splitlines() if line.startswith("| 2025-")]
        assert [row.split(" | ")[0] for row in rows] == [f"| {m.partition}"], preview
        assert f"{low:,.1f} | {mean:,.1f} | {high:,.1f} | 24 |" in rows[0]


def test_checks_pass_on_a_complete_partition(build_test_defs):
    defs = build_test_defs()
    result = _materialize(defs, observation_key(ACTUAL, catalog.area("NL")), partition_key="2025-06-04")
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {"completeness", "plausible_values", "resolution_matches", "points_placed"}
    assert all(e.passed for e in evaluations.values()), {n: e.description for n, e in evaluations.items()}
    assert evaluations["completeness"].metadata["expected_points"].value == 96


def test_a_window_without_published_data_is_a_success_with_zero_rows(make_simulator, database_url):
    quiet = make_simulator(no_data=((datetime(2025, 8, 1, tzinfo=UTC), datetime(2025, 8, 2, tzinfo=UTC)),))
    from entsoe_pipeline.defs import build_defs

    defs = build_defs(Settings(), resources=make_resources(quiet.url, database_url))
    result = _materialize(defs, observation_key(ACTUAL, catalog.area("FR")), partition_key="2025-08-01")
    assert result.success
    meta = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0].metadata
    assert meta["dagster/row_count"].value == 0
    assert "no data published" in meta["note"].value


def test_a_wrong_token_fails_the_run_without_retry_and_without_the_token(make_simulator, database_url):
    from entsoe_pipeline.defs import build_defs

    sim = make_simulator()
    secret = "wrong-token-3f9c1d"
    defs = build_defs(Settings(), resources=make_resources(sim.url, database_url, token=secret))
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(
        defs,
        observation_key(ACTUAL, catalog.area("FR")),
        partition_key="2025-06-05",
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    assert sim.request_count == 1
    text = "\n".join(str(e.event_specific_data) + (e.message or "") for e in result.all_events)
    assert "Unauthorized" in text or "token" in text.lower()
    assert secret not in text
    logs = instance.all_logs(result.run_id)
    assert not any(secret in (r.message or "") for r in logs)


def test_a_yearly_partition_keeps_the_point_of_the_local_year_that_starts_before_utc(
    build_test_defs, database_url
):
    defs = build_test_defs()
    margin = catalog.endpoint("year_ahead_forecast_margin")
    result = _materialize(defs, observation_key(margin, catalog.area("FR")), partition_key="2025")
    assert result.success
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time FROM entsoe.observations WHERE endpoint = %s AND area = %s ORDER BY time",
            (margin.name, catalog.area("FR").eic),
        )
        times = [t.isoformat() for (t,) in cur.fetchall()]
    # Paris local year 2025 starts at 2024-12-31T23:00Z, an hour before the UTC partition.
    assert "2024-12-31T23:00:00+00:00" in times


def test_checks_fail_visibly_on_a_half_published_day_and_keep_what_was_written(make_simulator, database_url):
    from entsoe_pipeline.defs import build_defs

    # The simulator publishes nothing for the afternoon of 2025-09-10: a crafted hole.
    hole = (datetime(2025, 9, 10, 12, tzinfo=UTC), datetime(2025, 9, 11, tzinfo=UTC))
    sim = make_simulator(no_data=(hole,))
    defs = build_defs(Settings(), resources=make_resources(sim.url, database_url))
    result = _materialize(defs, observation_key(ACTUAL, catalog.area("FR")), partition_key="2025-09-10")
    assert result.success  # a failing check reports; it does not fail the run or delete data
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evaluations["completeness"].passed
    assert evaluations["completeness"].metadata["missing_points"].value == 12
    assert evaluations["plausible_values"].passed
    assert _rows(database_url, "actual_load", "FR", "2025-09-10", "2025-09-11") == 12


def test_an_unreadable_window_fails_alone_and_its_neighbours_in_the_range_run_are_stored(
    make_simulator, database_url
):
    from entsoe_pipeline.defs import build_defs
    from entsoe_pipeline.defs.partitions import partitions_for

    bad_day = (datetime(2025, 10, 5, tzinfo=UTC), datetime(2025, 10, 6, tzinfo=UTC))
    sim = make_simulator(malformed_windows=(bad_day,))
    defs = build_defs(Settings(), resources=make_resources(sim.url, database_url))
    key = observation_key(ACTUAL, catalog.area("FR"))
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(
        defs,
        key,
        instance=instance,
        raise_on_error=False,
        tags={
            "dagster/asset_partition_range_start": "2025-10-01",
            "dagster/asset_partition_range_end": "2025-10-10",
        },
    )

    assert not result.success
    days = [f"2025-10-{d:02d}" for d in range(1, 11)]
    status = instance.get_status_by_partition(key, days, partitions_for(ACTUAL, Settings().history_start))
    assert {day: s.value for day, s in status.items()} == {
        day: "FAILED" if day == "2025-10-05" else "MATERIALIZED" for day in days
    }
    assert _rows(database_url, "actual_load", "FR", "2025-10-01", "2025-10-11") == 9 * 24
    assert _rows(database_url, "actual_load", "FR", "2025-10-05", "2025-10-06") == 0
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "1 of 10 partitions could not be read" in str(failure.event_specific_data.error)
    assert "2025-10-05" in str(failure.event_specific_data.error)
    assert sim.request_count <= 10  # narrowed down by halves, not one request per day


def test_a_sweep_run_rereads_its_range_and_reports_revised_rows(make_simulator, database_url):
    from entsoe_pipeline.defs import build_defs

    first = datetime(2025, 3, 12, 14, tzinfo=UTC)
    sim = make_simulator(now=first, revision_share=1.0)  # every day is revised once, D+1 .. D+30
    settings = Settings(areas=(catalog.area("FR"),), endpoints=(catalog.endpoint("actual_load"),))
    defs = build_defs(settings, resources=make_resources(sim.url, database_url))
    key = dg.AssetKey(["entsoe", "actual_load", "fr"])
    tags = {
        "dagster/asset_partition_range_start": "2025-03-01",
        "dagster/asset_partition_range_end": "2025-03-07",
    }
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([defs.resolve_assets_def(key)], instance=instance, tags=tags).success
    sim.config.now = first + timedelta(days=40)  # every revision of those days is out now
    swept = dg.materialize([defs.resolve_assets_def(key)], instance=instance, tags=tags)
    assert swept.success
    week = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 8, tzinfo=UTC))
    known = sim.revisions("actual_load", "FR", *week, as_of=first)
    revised = sim.revisions("actual_load", "FR", *week)
    since_first = revised[~revised["time"].isin(known["time"])]
    node = swept.all_node_events[0].node_name
    updated = {
        m.partition: m.metadata["rows_updated"].value for m in swept.asset_materializations_for_node(node)
    }
    assert updated == {f"2025-03-0{d}": int((since_first["time"].dt.day == d).sum()) for d in range(1, 8)}
    assert sum(updated.values()) > 0
    truth = sim.published("actual_load", "FR", *week)
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT time, value FROM entsoe.observations WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= '2025-03-01' AND time < '2025-03-08' ORDER BY time",
            (catalog.area("FR").eic,),
        )
        stored = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM entsoe.observation_history WHERE endpoint = 'actual_load' AND area = %s "
            "AND time >= '2025-03-01' AND time < '2025-03-08' AND change = 'revised'",
            (catalog.area("FR").eic,),
        )
        (history,) = cur.fetchone()
    assert [(t, v) for t, v in stored] == [
        (t.to_pydatetime(), v) for t, v in zip(truth["time"], truth["value"], strict=True)
    ]
    assert history == len(since_first)


class _PointPastThePeriod(SimulatorServer):
    """The simulator, with one Point more in every Period: at position N + 2 of its N steps, where
    no time can be given to it (placement.py places at most N, or N + 1 of a calendar Period)."""

    def handle(self, path: str, params: dict[str, str]) -> Reply:
        reply = super().handle(path, params)
        if reply.status != 200 or b"</Period>" not in reply.body:
            return reply
        body = re.sub(
            rb"<position>(\d+)</position>(<quantity>[^<]*</quantity></Point>)</Period>",
            lambda m: m.group(0).replace(
                b"</Period>",
                b"<Point><position>%d</position>%s</Period>" % (int(m.group(1)) + 2, m.group(2)),
            ),
            reply.body,
        )
        return reply._replace(body=body)


def test_a_point_that_cannot_be_placed_fails_points_placed_and_the_others_are_stored(database_url):
    from entsoe_pipeline.defs import build_defs

    sim = _PointPastThePeriod(SimulatorConfig())
    try:
        defs = build_defs(Settings(), resources=make_resources(sim.url, database_url))
        result = _materialize(defs, observation_key(ACTUAL, catalog.area("FR")), partition_key="2025-11-04")
    finally:
        sim.stop()

    assert result.success  # the rest of the document is stored
    placed = {e.check_name: e for e in result.get_asset_check_evaluations()}["points_placed"]
    assert not placed.passed
    assert placed.severity == dg.AssetCheckSeverity.ERROR
    assert placed.metadata["points_dropped"].value == 1
    meta = result.asset_materializations_for_node(result.all_node_events[0].node_name)[0].metadata
    assert meta["points_dropped"].value == 1
    assert "up to position 26: 1 Point beyond position 24 dropped" in meta["document_problems"].value
    assert _rows(database_url, "actual_load", "FR", "2025-11-04", "2025-11-05") == 24
