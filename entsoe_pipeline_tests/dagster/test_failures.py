"""A partition that cannot be fetched fails its run visibly: the event log says which request failed
and why, nothing is stored for it, and the token is nowhere in what the instance recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import psycopg2
import pytest

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.defs import Settings, build_defs
from entsoe_pipeline.defs.observations import observation_key

from .conftest import make_resources

SECRET = "tok-dagster-8b3f0e6a-distinctive"
ACTUAL = catalog.endpoint("actual_load")
FR = catalog.area("FR")


def _rows(database_url: str, start: datetime, end: datetime) -> int:
    with psycopg2.connect(database_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM entsoe.observations WHERE endpoint = %s AND area = %s "
            "AND time >= %s AND time < %s",
            (ACTUAL.name, FR.eic, start, end),
        )
        return int(cur.fetchone()[0])


@pytest.mark.parametrize(
    ("fault", "partition", "cause"),
    [
        ("revoked token", "2025-02-14", "refused the security token (HTTP 401"),
        ("malformed window", "2025-02-15", "malformed XML"),
    ],
)
def test_a_failed_partition_is_reported_stores_nothing_and_keeps_the_token_out_of_the_log(
    make_simulator, database_url, fault, partition, cause
):
    start = datetime.fromisoformat(partition).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    if fault == "revoked token":
        sim = make_simulator(token=SECRET, revoked=True)
    else:
        sim = make_simulator(token=SECRET, malformed_windows=((start, end),))
    defs = build_defs(Settings(), resources=make_resources(sim.url, database_url, token=SECRET))
    instance = dg.DagsterInstance.ephemeral()
    storage.ensure_schema(database_url)
    assert _rows(database_url, start, end) == 0

    result = dg.materialize(
        [defs.resolve_assets_def(observation_key(ACTUAL, FR))],
        instance=instance,
        partition_key=partition,
        raise_on_error=False,
    )

    assert not result.success
    assert _rows(database_url, start, end) == 0
    if fault == "revoked token":
        assert sim.request_count == 1  # failed fast: no retry of the request, no retry of the step
    records = instance.all_logs(result.run_id)
    (failure,) = [r for r in records if r.dagster_event and r.dagster_event.is_step_failure]
    message = str(failure.dagster_event.step_failure_data.error.message)
    assert "actual_load for FR" in message
    assert f"{start:%Y-%m-%dT%H:%MZ} to {end:%Y-%m-%dT%H:%MZ}" in message
    assert cause in message
    # Everything the instance holds about the run: every event record whole (messages, metadata,
    # error info with its causes and stack), and the run itself (config, tags).
    assert records
    for record in records:
        assert SECRET not in str(record)
        assert SECRET not in dg.serialize_value(record)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and SECRET not in dg.serialize_value(run)
