"""``python -m entsoe_pipeline.audit`` (``make audit``): does the store equal what ENTSO-E publishes?

Asks the API again for a seeded sample of stored windows (partitions that hold data and whose data
should be published by now) of every enabled endpoint and area, and compares the answer with the
store point by point. Per series it counts the points compared, the values that differ (a revision
not yet fetched), the points published but not stored (a late publication not yet fetched) and the
points stored but no longer published (stale: the quarter hours of a window re-published hourly).
Prints a table and exits with 1 when anything differs, so a cron job or CI can alert.

It reads what the pipeline reads: ENTSOE_DATABASE_URL, ENTSOE_API_TOKEN (or the simulator in demo
mode), ENTSOE_AREAS, ENTSOE_ENDPOINTS and ENTSOE_HISTORY_START. It makes one request or a few per
window, drawing from the request budget the pipeline's runs share (in the database).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pandas as pd

from entsoe_pipeline import storage
from entsoe_pipeline.catalog import Area, Endpoint
from entsoe_pipeline.entsoe import EntsoeClient, EntsoeError
from entsoe_pipeline.entsoe.rate_limit import default_burst
from entsoe_pipeline.ingest import expected_until, local_calendar
from entsoe_pipeline.settings import ApiSettings, Settings
from entsoe_pipeline.storage.windows import data_window, partition_windows

KEY = ["business_type", "psr_type", "variant", "time"]


@dataclass
class SeriesAudit:
    """The comparison of one series over the sampled windows."""

    endpoint: str
    area: str
    business_type: str
    psr_type: str
    variant: str
    windows: int = 0
    compared: int = 0  # points both published and stored
    mismatched: int = 0  # of those, with another value or resolution
    missing: int = 0  # published, not stored
    stale: int = 0  # stored, no longer published

    @property
    def differences(self) -> int:
        return self.mismatched + self.missing + self.stale


def sample_windows(
    dsn: str,
    endpoint: Endpoint,
    area: Area,
    start: datetime,
    now: datetime,
    sample: int,
    rng: random.Random,
) -> list[tuple[datetime, datetime]]:
    """Up to ``sample`` partition windows in [start, now) that hold data and whose data should all
    be published by ``now``, as the data windows to fetch (local midnights for calendar data)."""
    until = expected_until(endpoint, now)
    windows = [w for w in partition_windows(start, now, endpoint.granularity) if w[1] <= until]
    if not windows:
        return []
    coverage = storage.window_completeness(
        dsn, endpoint.name, area.eic, windows, default_resolution=endpoint.default_resolution
    )
    with_data = [(c.start, c.end) for c in coverage if c.stored]
    chosen = sorted(rng.sample(with_data, min(sample, len(with_data))))
    return [data_window(s, e, local_calendar(endpoint), area.tz) for s, e in chosen]


def compare(published: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """Per series: compared, mismatched, missing and stale points of one window."""
    both = published[[*KEY, "value", "resolution"]].merge(
        stored[[*KEY, "value", "resolution"]], on=KEY, how="outer", suffixes=("_api", "_db"), indicator=True
    )
    both["compared"] = both["_merge"] == "both"
    both["mismatched"] = both["compared"] & (
        (both["value_api"] != both["value_db"]) | (both["resolution_api"] != both["resolution_db"])
    )
    both["missing"] = both["_merge"] == "left_only"
    both["stale"] = both["_merge"] == "right_only"
    columns = ["compared", "mismatched", "missing", "stale"]
    return both.groupby(KEY[:3])[columns].sum().reset_index()


def audit(
    dsn: str,
    client: EntsoeClient,
    endpoints: Sequence[Endpoint],
    areas: Sequence[Area],
    *,
    start: datetime,
    now: datetime,
    sample: int = 5,
    seed: int = 0,
) -> list[SeriesAudit]:
    """Compare a sample of stored windows per (endpoint, area) with a fresh answer of the API."""
    rng = random.Random(seed)
    results: dict[tuple[str, ...], SeriesAudit] = {}
    for endpoint in endpoints:
        for area in areas:
            for window_start, window_end in sample_windows(dsn, endpoint, area, start, now, sample, rng):
                published = client.fetch(endpoint, area, window_start, window_end).points
                stored = storage.stored_points(dsn, endpoint.name, area.eic, window_start, window_end)
                for row in compare(published, stored).to_dict("records"):
                    key = (
                        endpoint.name,
                        area.name,
                        str(row["business_type"]),
                        str(row["psr_type"]),
                        str(row["variant"]),
                    )
                    series = results.setdefault(key, SeriesAudit(*key))
                    series.windows += 1
                    series.compared += int(row["compared"])
                    series.mismatched += int(row["mismatched"])
                    series.missing += int(row["missing"])
                    series.stale += int(row["stale"])
    return sorted(
        results.values(), key=lambda s: (s.endpoint, s.area, s.business_type, s.psr_type, s.variant)
    )


def report(results: Sequence[SeriesAudit]) -> str:
    header = ["endpoint", "area", "series", "windows", "compared", "mismatched", "missing", "stale"]
    rows = [
        [
            r.endpoint,
            r.area,
            "/".join(x for x in (r.business_type, r.psr_type, r.variant) if x) or "-",
            *(str(n) for n in (r.windows, r.compared, r.mismatched, r.missing, r.stale)),
        ]
        for r in results
    ]
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) for line in [header, *rows]
    ]
    differing = sum(1 for r in results if r.differences)
    lines.append(
        f"{len(results)} series audited, {differing} with differences"
        if results
        else "nothing to audit: no stored window is due yet"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m entsoe_pipeline.audit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sample", type=int, default=5, help="windows per endpoint and area (default 5)")
    parser.add_argument("--days", type=int, default=90, help="sample from the last DAYS days (default 90)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the sample (default: a new one)")
    args = parser.parse_args(argv)
    dsn = os.environ.get("ENTSOE_DATABASE_URL", "").strip()
    if not dsn:
        print("error: ENTSOE_DATABASE_URL is not set (make audit sets it)", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        api = ApiSettings.from_env()
    except (KeyError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    start = max(now - timedelta(days=args.days), datetime.combine(settings.history_start, time(), UTC))
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"auditing {args.sample} windows per endpoint and area since {start:%Y-%m-%d} (seed {seed})")
    try:
        storage.ensure_schema(dsn)
        budget = storage.SharedBudget(
            dsn,
            api.base_url,
            api.token,
            api.requests_per_minute,
            default_burst(api.requests_per_minute),
            concurrency=api.max_concurrent_requests,
        )
        try:
            with EntsoeClient(api.token, api.base_url, limiter=budget) as client:
                results = audit(
                    dsn,
                    client,
                    settings.endpoints,
                    settings.areas,
                    start=start,
                    now=now,
                    sample=args.sample,
                    seed=seed,
                )
        finally:
            budget.close()
    except (EntsoeError, storage.StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(results))
    return 1 if any(r.differences for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
