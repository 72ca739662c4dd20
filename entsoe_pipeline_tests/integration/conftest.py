"""Fixtures of the storage tests: every test runs on TimescaleDB and on plain PostgreSQL."""

import secrets

import pytest

from entsoe_pipeline.storage import ensure_schema


@pytest.fixture(params=["timescaledb", "plain"])
def dsn(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("database_url" if request.param == "timescaledb" else "plain_database_url")
    ensure_schema(url)
    return str(url)


@pytest.fixture
def endpoint() -> str:
    """An endpoint name of the test's own, so tests sharing a database never see each other's rows."""
    return f"test_{secrets.token_hex(4)}"
