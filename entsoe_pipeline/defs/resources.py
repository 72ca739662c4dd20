"""Dagster resources: thin, typed wrappers that hand the ENTSO-E client and the TimescaleDB store
their configuration. Secrets are set with ``dg.EnvVar`` so the UI shows the variable's name only."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from entsoe_pipeline import storage
from entsoe_pipeline.entsoe.client import EntsoeClient
from entsoe_pipeline.simulator import DEMO_TOKEN

PRODUCTION_API_URL = "https://web-api.tp.entsoe.eu/api"
DEFAULT_REQUESTS_PER_MINUTE = 150.0
SIMULATOR_API_URL = "http://127.0.0.1:8765/api"

_schema_lock = threading.Lock()
_schema_ready: set[str] = set()


class EntsoeApiResource(dg.ConfigurableResource):
    """The ENTSO-E REST API (or the bundled simulator, which speaks the same API)."""

    token: str
    base_url: str = PRODUCTION_API_URL
    # Per run process. ENTSO-E bans a token for 10 minutes above 400 requests a minute; the
    # entsoe_api pool lets 2 steps call it at once (dagster.yaml), so 2 x 150 stays well below.
    requests_per_minute: float = DEFAULT_REQUESTS_PER_MINUTE
    max_retries: int = 5

    @contextmanager
    def client(self) -> Iterator[EntsoeClient]:
        with EntsoeClient(
            self.token,
            self.base_url,
            requests_per_minute=self.requests_per_minute,
            max_retries=self.max_retries,
        ) as client:
            yield client


class TimescaleResource(dg.ConfigurableResource):
    """The TimescaleDB (or plain PostgreSQL) database that holds ``entsoe.observations``."""

    database_url: str

    @property
    def dsn(self) -> str:
        self.ensure_schema()
        return self.database_url

    def ensure_schema(self) -> None:
        """Idempotent schema set-up, once per process and database."""
        with _schema_lock:
            if self.database_url in _schema_ready:
                return
            storage.ensure_schema(self.database_url)
            _schema_ready.add(self.database_url)


def default_resources() -> dict[str, dg.ConfigurableResource]:
    """Resources configured from the environment.

    With ENTSOE_API_TOKEN set the pipeline talks to the real API; without it (demo mode) it talks to
    the simulator with the simulator's token, so runs never fail for a missing variable.
    """
    demo = not os.environ.get("ENTSOE_API_TOKEN")
    api = EntsoeApiResource(
        token=DEMO_TOKEN if demo else dg.EnvVar("ENTSOE_API_TOKEN"),
        base_url=os.environ.get("ENTSOE_API_URL") or (SIMULATOR_API_URL if demo else PRODUCTION_API_URL),
        requests_per_minute=float(
            os.environ.get("ENTSOE_REQUESTS_PER_MINUTE") or DEFAULT_REQUESTS_PER_MINUTE
        ),
    )
    return {"entsoe_api": api, "timescale": TimescaleResource(database_url=dg.EnvVar("ENTSOE_DATABASE_URL"))}
