"""Configuration from the environment (or a ``.env`` file that the scripts export).

``Settings`` is the shape of the pipeline, read once when the code location loads: which areas and
endpoints become assets, from when, and how the launchers behave. In Dagster, secrets and run-time
values (token, API URL, database URL) are resource fields set with ``dg.EnvVar`` and resolved when
a run starts, so they never enter the definitions and loading works offline; ``ApiSettings`` is the
same configuration for code outside Dagster (``python -m entsoe_pipeline.audit``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from entsoe_pipeline import catalog
from entsoe_pipeline.demo import DEMO_TOKEN

DEFAULT_HISTORY_START = date(2025, 1, 1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


@dataclass(frozen=True)
class Settings:
    areas: tuple[catalog.Area, ...] = tuple(catalog.area(a) for a in catalog.DEFAULT_AREAS)
    endpoints: tuple[catalog.Endpoint, ...] = tuple(catalog.endpoint(e) for e in catalog.LOAD_ENDPOINTS)
    history_start: date = DEFAULT_HISTORY_START
    # How often the store sensor reads the database (freshness, refills, gaps). The freshness of
    # the _newest companions fails after 9 intervals without a confirmation (defs/freshness.py).
    store_sensor_interval_seconds: int = 60
    # A window the API answered "no matching data" this many times is no longer asked for.
    max_empty_tries: int = 3
    # A step that failed for a transient reason (database restart, platform outage) is retried twice,
    # about this long after the first failure and three times as long after the second.
    retry_delay_seconds: int = 60
    # Gaps of at least this many contiguous partitions become one partition backfill.
    backfill_threshold_partitions: int = 3
    tags: Mapping[str, str] = field(default_factory=dict)
    # What "now" is for runs and sensors: real time, or a simulated clock in scenario tests.
    clock: Callable[[], datetime] = field(default=utc_now, compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        defaults = cls()
        areas = tuple(catalog.area(a) for a in _csv(env.get("ENTSOE_AREAS"))) or defaults.areas
        endpoints = (
            tuple(catalog.endpoint(e) for e in _csv(env.get("ENTSOE_ENDPOINTS"))) or defaults.endpoints
        )
        start_text = env.get("ENTSOE_HISTORY_START", "").strip()
        try:
            history_start = date.fromisoformat(start_text) if start_text else defaults.history_start
        except ValueError:
            raise ValueError(f"ENTSOE_HISTORY_START={start_text!r} is not a date like 2024-01-01") from None
        return cls(
            areas=areas,
            endpoints=endpoints,
            history_start=history_start,
            store_sensor_interval_seconds=_int(
                env, "ENTSOE_STORE_SENSOR_INTERVAL_SECONDS", defaults.store_sensor_interval_seconds
            ),
            max_empty_tries=_int(env, "ENTSOE_MAX_EMPTY_TRIES", defaults.max_empty_tries),
            retry_delay_seconds=_int(env, "ENTSOE_RETRY_DELAY_SECONDS", defaults.retry_delay_seconds),
            backfill_threshold_partitions=_int(
                env, "ENTSOE_BACKFILL_THRESHOLD_PARTITIONS", defaults.backfill_threshold_partitions
            ),
        )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    text = env.get(name, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a whole number") from None
    if value <= 0:
        raise ValueError(f"{name}={text!r} must be positive")
    return value


PRODUCTION_API_URL = "https://web-api.tp.entsoe.eu/api"
SIMULATOR_API_URL = "http://127.0.0.1:8765/api"
# For the token, shared through the database by every run (storage/api_budget.py). ENTSO-E bans a
# token for 10 minutes above 400 requests a minute; 300 plus a burst of 10 stays well below.
DEFAULT_REQUESTS_PER_MINUTE = 300.0
# Requests in flight at once for one token, across every process (storage/api_budget.py).
DEFAULT_MAX_CONCURRENT_REQUESTS = 2
TOKEN_VARIABLE = "ENTSOE_API_TOKEN"


@dataclass(frozen=True)
class ApiSettings:
    """Where the ENTSO-E API is and how to use it. Without ENTSOE_API_TOKEN (demo mode) that is the
    bundled simulator with its token, so nothing fails for a missing variable."""

    token: str = field(repr=False)
    base_url: str
    requests_per_minute: float
    demo: bool
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ApiSettings:
        env = os.environ if env is None else env
        token = env.get(TOKEN_VARIABLE, "").strip()
        demo = not token
        rate = env.get("ENTSOE_REQUESTS_PER_MINUTE", "").strip()
        try:
            requests_per_minute = float(rate) if rate else DEFAULT_REQUESTS_PER_MINUTE
        except ValueError:
            raise ValueError(f"ENTSOE_REQUESTS_PER_MINUTE={rate!r} is not a number") from None
        return cls(
            token=DEMO_TOKEN if demo else token,
            base_url=env.get("ENTSOE_API_URL", "").strip()
            or (SIMULATOR_API_URL if demo else PRODUCTION_API_URL),
            requests_per_minute=requests_per_minute,
            demo=demo,
            max_concurrent_requests=_int(
                env, "ENTSOE_MAX_CONCURRENT_REQUESTS", DEFAULT_MAX_CONCURRENT_REQUESTS
            ),
        )
