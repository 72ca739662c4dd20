"""Definitions wired to the simulator over HTTP and a fresh TimescaleDB database."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.backfill import execute_backfill_iteration

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


def add_backfill(instance, key: dg.AssetKey, partitions_def, first: str, last: str) -> str:
    """Record an active partition backfill of ``key`` over [first, last], as the UI would; returns
    its id. (Dagster has no public API that records one outside its UI and sensors.)"""
    subset = partitions_def.empty_subset().with_partition_key_range(
        partitions_def, dg.PartitionKeyRange(first, last)
    )
    backfill_id = make_new_backfill_id()
    instance.add_backfill(
        PartitionBackfill.from_asset_graph_subset(
            backfill_id=backfill_id,
            backfill_timestamp=time.time(),
            tags={},
            dynamic_partitions_store=instance,
            asset_graph_subset=AssetGraphSubset(partitions_subsets_by_asset_key={key: subset}),
            title=None,
            description=None,
            run_config=None,
        )
    )
    return backfill_id


def queue_backfill(
    instance: dg.DagsterInstance,
    location: tuple[str, str],
    key: dg.AssetKey,
    partitions_def,
    first: str,
    last: str,
    at: datetime,
) -> str:
    """A backfill of ``key`` over [first, last] whose runs Dagster's backfill daemon has submitted
    at ``at`` and that wait in the run queue, as behind a busy queue: nothing dequeues them here.

    ``location`` is (module, attribute) of the definitions the daemon loads in process. The
    daemon's steps are Dagster internals (the only way to run one iteration in a test); an upgrade
    that changes them fails the tests that use this, not the pipeline.
    """
    backfill_id = add_backfill(instance, key, partitions_def, first, last)
    module, attribute = location
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name=module, attribute=attribute), location_name="backfill_test"
    )
    with (
        freeze_time(at),
        create_test_daemon_workspace_context(InProcessWorkspaceLoadTarget(origin), instance) as context,
    ):
        list(execute_backfill_iteration(context, logging.getLogger(__name__)))
    return backfill_id


#: ``record_property(SUMMARY, text)`` in a test: ``text`` is shown after the run, also on success
#: (pytest hides a passing test's output).
SUMMARY = "terminal_summary"


def pytest_terminal_summary(terminalreporter) -> None:
    for reports in list(terminalreporter.stats.values()):
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for name, text in getattr(report, "user_properties", ()):
                if name == SUMMARY:
                    terminalreporter.write_sep("-", report.nodeid)
                    terminalreporter.write_line(str(text))
