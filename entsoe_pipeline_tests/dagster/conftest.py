"""Definitions wired to the simulator over HTTP and a fresh TimescaleDB database."""

from __future__ import annotations

import pytest

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
