"""Dagster resources: thin, typed wrappers that hand the ENTSO-E client and the TimescaleDB store
their configuration. Secrets are set with ``dg.EnvVar`` so the UI shows the variable's name only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from entsoe_pipeline import storage
from entsoe_pipeline.entsoe.client import EntsoeClient
from entsoe_pipeline.entsoe.rate_limit import default_burst
from entsoe_pipeline.settings import (
    DEFAULT_MAX_CONCURRENT_REQUESTS,
    DEFAULT_REQUESTS_PER_MINUTE,
    PRODUCTION_API_URL,
    TOKEN_VARIABLE,
    ApiSettings,
)

_schema_lock = threading.Lock()
_schema_ready: set[str] = set()


class EntsoeApiResource(dg.ConfigurableResource):
    """The ENTSO-E REST API (or the bundled simulator, which speaks the same API)."""

    token: str
    base_url: str = PRODUCTION_API_URL
    # For the token, across every process that shares ``budget_dsn`` (settings.py).
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE
    # Requests in flight at once for the token, across every process that shares ``budget_dsn``.
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    max_retries: int = 5

    @contextmanager
    def client(self, budget_dsn: str | None = None) -> Iterator[EntsoeClient]:
        """A client; with ``budget_dsn`` its requests draw from the budget every run shares through
        that database, so concurrent runs together stay within ``requests_per_minute`` and
        ``max_concurrent_requests``."""
        budget = (
            storage.SharedBudget(
                budget_dsn,
                self.base_url,
                self.token,
                self.requests_per_minute,
                default_burst(self.requests_per_minute),
                concurrency=self.max_concurrent_requests,
            )
            if budget_dsn
            else None
        )
        try:
            with EntsoeClient(
                self.token,
                self.base_url,
                requests_per_minute=self.requests_per_minute,
                max_retries=self.max_retries,
                limiter=budget,
                # A step's requests fill the slots the others leave free; all together stay within them.
                parallel_requests=self.max_concurrent_requests,
            ) as client:
                yield client
        finally:
            if budget is not None:
                budget.close()


class TimescaleResource(dg.ConfigurableResource):
    """The TimescaleDB (or plain PostgreSQL) database that holds ``entsoe.observations``. Its schema
    is set up (idempotently, once per process) when a run or sensor tick starts using it."""

    database_url: str

    @property
    def dsn(self) -> str:
        return self.database_url

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        with _schema_lock:
            if self.database_url not in _schema_ready:
                storage.ensure_schema(self.database_url)
                _schema_ready.add(self.database_url)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the environment.

    With ENTSOE_API_TOKEN set the pipeline talks to the real API; without it (demo mode) it talks to
    the simulator with the simulator's token, so runs never fail for a missing variable. The real
    token stays an ``EnvVar``: the UI shows the variable's name, never its value.
    """
    api = ApiSettings.from_env()
    return {
        "entsoe_api": EntsoeApiResource(
            token=api.token if api.demo else dg.EnvVar(TOKEN_VARIABLE),
            base_url=api.base_url,
            requests_per_minute=api.requests_per_minute,
            max_concurrent_requests=api.max_concurrent_requests,
        ),
        "timescale": TimescaleResource(database_url=dg.EnvVar("ENTSOE_DATABASE_URL")),
    }
