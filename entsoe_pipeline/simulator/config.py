"""Configuration of the simulator: its token, clock, rate limit, injectable faults and the
platform's habits it imitates (habits.py)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta

from entsoe_pipeline.demo import DEMO_TOKEN

from .habits import Habits

#: Faults that can be changed while the server runs (``SimulatorServer.set_faults``).
FAULTS = (
    "error_rate",
    "latency_seconds",
    "truncate_rate",
    "malformed_rate",
    "reset_rate",
    "error_burst",
    "redirect_to",
    "acknowledgement_text",
    "revoked",
)
HABIT_SHARES = ("revision_share", "late_share", "short_period_share", "republish_hourly_share")

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
    #: Fraction of data answers whose connection is reset after half the body (Content-Length full).
    reset_rate: float = 0.0
    #: The next this many authorised requests are answered 500 and 503 alternately (counts down).
    error_burst: int = 0
    #: Answer every request with 302 to this URL (plus the request's query, token included, as a
    #: server rewriting its address would); a request already at that URL is answered normally.
    redirect_to: str = ""
    #: Answer authorised requests with a 200 Acknowledgement (reason 999) carrying this text.
    acknowledgement_text: str = ""
    #: The token was revoked: every request is answered 401, the configured token included.
    revoked: bool = False
    #: Windows in which nothing is published.
    no_data: tuple[tuple[datetime, datetime], ...] = ()
    #: Windows whose answers are never readable: a request overlapping one gets a non-XML body.
    malformed_windows: tuple[tuple[datetime, datetime], ...] = ()
    #: Seed of the fault draws and of which days the habits below pick (the values themselves do
    #: not depend on it).
    seed: int = 0
    #: Stricter request-span limits than the catalogue's, per endpoint name (e.g. to exercise the
    #: client's shrinking); the acknowledgement quotes them as ISO durations.
    span_limits: Mapping[str, timedelta] = field(default_factory=dict)
    # -- habits of the platform (habits.py), all off by default -------------------------------------
    #: Share of (endpoint, area, local day D) of the daily items whose values are revised once, 2 to
    #: 22 whole hours after local midnight of a day D+1 .. D+30 (of a late day: after it is out).
    revision_share: float = 0.0
    #: Share of the days of actual load and generation first published at 00:00 local on D+2 or D+7.
    late_share: float = 0.0
    #: Share of year-ahead and month-ahead blocks whose Period declares one P7D step less than it holds.
    short_period_share: float = 0.0
    #: 15-minute go-live: quarter-hour areas publish load and generation hourly for local days before it.
    resolution_switch: date | None = None
    #: Share of the revised days of quarter-hour areas re-published at PT60M (load and generation items).
    republish_hourly_share: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "truncate_rate", "malformed_rate", "reset_rate", *HABIT_SHARES):
            validate_rate(name, getattr(self, name))
        validate_count("error_burst", self.error_burst)
        if self.now is not None and self.now.tzinfo is None:
            raise ValueError(f"SimulatorConfig.now must be tz-aware, got {self.now.isoformat()}")
        if self.max_requests_per_minute < 1:
            raise ValueError(f"max_requests_per_minute must be >= 1, got {self.max_requests_per_minute}")
        self.no_data = tuple((_aware(a), _aware(b)) for a, b in self.no_data)
        self.malformed_windows = tuple((_aware(a), _aware(b)) for a, b in self.malformed_windows)
        if isinstance(self.resolution_switch, datetime):  # a local calendar day, as delivery days are
            raise ValueError(f"resolution_switch must be a date, got {self.resolution_switch.isoformat()}")

    def current_time(self) -> datetime:
        return self.now.astimezone(UTC) if self.now is not None else datetime.now(UTC)

    def habits(self) -> Habits:
        return Habits(
            seed=self.seed,
            revision_share=self.revision_share,
            late_share=self.late_share,
            short_period_share=self.short_period_share,
            resolution_switch=self.resolution_switch,
            republish_hourly_share=self.republish_hourly_share,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SimulatorConfig:
        """Configuration from ENTSOE_SIMULATOR_* variables (TOKEN, NOW, RATE_LIMIT, BAN_SECONDS,
        ERROR_RATE, LATENCY, TRUNCATE_RATE, MALFORMED_RATE, RESET_RATE, SEED, NO_DATA, MALFORMED_WINDOWS,
        REVISION_SHARE, LATE_SHARE, SHORT_PERIOD_SHARE, RESOLUTION_SWITCH, REPUBLISH_HOURLY_SHARE);
        unset ones keep their defaults."""
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


def validate_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")


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


def parse_date(text: str) -> date:
    """A calendar day, YYYY-MM-DD."""
    return date.fromisoformat(text.strip())


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"windows must be tz-aware, got {moment.isoformat()}")
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
    "RESET_RATE": ("reset_rate", float),
    "SEED": ("seed", int),
    "NO_DATA": ("no_data", parse_windows),
    "MALFORMED_WINDOWS": ("malformed_windows", parse_windows),
    "REVISION_SHARE": ("revision_share", float),
    "LATE_SHARE": ("late_share", float),
    "SHORT_PERIOD_SHARE": ("short_period_share", float),
    "RESOLUTION_SWITCH": ("resolution_switch", parse_date),
    "REPUBLISH_HOURLY_SHARE": ("republish_hourly_share", float),
}

assert {f for f, _ in ENV_FIELDS.values()} <= {f.name for f in fields(SimulatorConfig)}
