"""Configuration of the simulator: its token, clock, rate limit and injectable faults."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta

#: The simulator's token. Not a secret: it only opens the local simulator (demo mode and tests).
DEMO_TOKEN = "entsoe-simulator-demo-token"

#: Faults that can be changed while the server runs (``SimulatorServer.set_faults``).
FAULTS = ("error_rate", "latency_seconds", "truncate_rate", "malformed_rate")

ENV_PREFIX = "ENTSOE_SIMULATOR_"


@dataclass
class SimulatorConfig:
    token: str = DEMO_TOKEN
    #: Fixed clock for what is published (tests); None = real time.
    now: datetime | None = None
    #: Beyond this many requests in a minute: HTTP 429 "Requester banned until '<iso>'".
    max_requests_per_minute: int = 400
    ban_seconds: float = 600
    #: Fraction of requests answered 503 (maintenance).
    error_rate: float = 0.0
    latency_seconds: float = 0.0
    #: Fraction of data bodies cut in half (malformed XML).
    truncate_rate: float = 0.0
    #: Fraction of data bodies that are not XML at all.
    malformed_rate: float = 0.0
    #: Windows in which nothing is published.
    no_data: tuple[tuple[datetime, datetime], ...] = ()
    #: Seed of the fault draws (data do not depend on it).
    seed: int = 0
    #: Stricter request-span limits than the catalogue's, per endpoint name (e.g. to exercise the
    #: client's shrinking); the acknowledgement quotes them as ISO durations.
    span_limits: Mapping[str, timedelta] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("error_rate", "truncate_rate", "malformed_rate"):
            validate_rate(name, getattr(self, name))
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError(f"SimulatorConfig.now must be tz-aware, got {self.now.isoformat()}")
        if self.max_requests_per_minute < 1:
            raise ValueError(f"max_requests_per_minute must be >= 1, got {self.max_requests_per_minute}")
        self.no_data = tuple((_aware(a), _aware(b)) for a, b in self.no_data)

    def current_time(self) -> datetime:
        return self.now.astimezone(UTC) if self.now is not None else datetime.now(UTC)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
        """Configuration from ENTSOE_SIMULATOR_* variables (TOKEN, NOW, RATE_LIMIT, BAN_SECONDS,
        ERROR_RATE, LATENCY, TRUNCATE_RATE, MALFORMED_RATE, SEED, NO_DATA); unset ones keep their defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for env_name, (field_name, convert) in ENV_FIELDS.items():
            raw = env.get(ENV_PREFIX + env_name, "").strip()
            if raw:
                try:
                    values[field_name] = convert(raw)
                except ValueError as exc:
                    raise ValueError(f"{ENV_PREFIX}{env_name}={raw!r}: {exc}") from None
        return cls(**values)  # type: ignore[arg-type]


def validate_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")


def parse_datetime(text: str) -> datetime:
    """ISO 8601 instant; a value without offset is taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_windows(text: str) -> tuple[tuple[datetime, datetime], ...]:
    """Windows written as START/END ISO 8601 instants, separated by commas."""
    windows = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        start, sep, end = part.partition("/")
        if not sep:
            raise ValueError(f"window {part!r} is not START/END")
        windows.append((parse_datetime(start), parse_datetime(end)))
    return tuple(windows)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"no_data windows must be tz-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


ENV_FIELDS: dict[str, tuple[str, Callable[[str], object]]] = {
    "TOKEN": ("token", str),
    "NOW": ("now", parse_datetime),
    "RATE_LIMIT": ("max_requests_per_minute", int),
    "BAN_SECONDS": ("ban_seconds", float),
    "ERROR_RATE": ("error_rate", float),
    "LATENCY": ("latency_seconds", float),
    "TRUNCATE_RATE": ("truncate_rate", float),
    "MALFORMED_RATE": ("malformed_rate", float),
    "SEED": ("seed", int),
    "NO_DATA": ("no_data", parse_windows),
}

assert {f for f, _ in ENV_FIELDS.values()} <= {f.name for f in fields(SimulatorConfig)}
