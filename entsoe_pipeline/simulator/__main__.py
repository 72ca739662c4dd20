"""``python -m entsoe_pipeline.simulator``: run the ENTSO-E simulator until interrupted.

Flags override the ENTSOE_SIMULATOR_* environment variables, which override the defaults.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from dataclasses import replace

from .config import DEMO_TOKEN, ENV_PREFIX, SimulatorConfig, parse_date, parse_datetime, parse_windows
from .server import SimulatorServer

DEFAULT_PORT = 8765


def _parser(defaults: SimulatorConfig) -> argparse.ArgumentParser:
    env = os.environ
    p = argparse.ArgumentParser(
        prog="python -m entsoe_pipeline.simulator",
        description="A local ENTSO-E Transparency Platform API with synthetic data, injectable faults "
        "and, when switched on, the platform's habits.",
    )
    p.add_argument(
        "--host", default=env.get(ENV_PREFIX + "HOST", "127.0.0.1"), help="interface (default 127.0.0.1)"
    )
    p.add_argument(
        "--port",
        type=int,
        default=int(env.get(ENV_PREFIX + "PORT", DEFAULT_PORT)),
        help=f"port (default {DEFAULT_PORT})",
    )
    p.add_argument(
        "--token", default=defaults.token, help="accepted security token (default: the demo token)"
    )
    p.add_argument(
        "--now", type=parse_datetime, default=defaults.now, help="fixed clock, ISO 8601 (default: real time)"
    )
    p.add_argument(
        "--rate-limit",
        type=int,
        default=defaults.max_requests_per_minute,
        help="requests per minute before a ban (default 400)",
    )
    p.add_argument(
        "--ban-seconds", type=float, default=defaults.ban_seconds, help="length of a ban (default 600)"
    )
    p.add_argument(
        "--error-rate", type=float, default=defaults.error_rate, help="fraction of requests answered 503"
    )
    p.add_argument(
        "--latency", type=float, default=defaults.latency_seconds, help="seconds added to every answer"
    )
    p.add_argument(
        "--truncate-rate", type=float, default=defaults.truncate_rate, help="fraction of bodies cut in half"
    )
    p.add_argument(
        "--malformed-rate", type=float, default=defaults.malformed_rate, help="fraction of non-XML bodies"
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="seed of the fault draws")
    p.add_argument(
        "--no-data",
        type=parse_windows,
        default=defaults.no_data,
        metavar="START/END[,START/END...]",
        help="windows in which nothing is published, e.g. 2025-08-01T00:00Z/2025-08-02T00:00Z",
    )
    p.add_argument(
        "--malformed-windows",
        type=parse_windows,
        default=defaults.malformed_windows,
        metavar="START/END[,START/END...]",
        help="windows whose answers are never readable (a non-XML body)",
    )
    habits = p.add_argument_group("habits of the platform (all off by default)")
    habits.add_argument(
        "--revision-share",
        type=float,
        default=defaults.revision_share,
        help="share of days of the daily items revised once, 1 to 30 days later",
    )
    habits.add_argument(
        "--late-share",
        type=float,
        default=defaults.late_share,
        help="share of days of actual load and generation first published on D+2 or D+7",
    )
    habits.add_argument(
        "--short-period-share",
        type=float,
        default=defaults.short_period_share,
        help="share of year/month-ahead blocks whose Period declares one week less than its Points",
    )
    habits.add_argument(
        "--resolution-switch",
        type=parse_date,
        default=defaults.resolution_switch,
        metavar="YYYY-MM-DD",
        help="first local day published at PT15M by quarter-hour areas (hourly before it)",
    )
    habits.add_argument(
        "--republish-hourly-share",
        type=float,
        default=defaults.republish_hourly_share,
        help="share of revised days of quarter-hour areas re-published at PT60M",
    )
    p.add_argument("--verbose", action="store_true", help="log every request (token redacted)")
    return p


def main(argv: list[str] | None = None) -> int:
    try:
        defaults = SimulatorConfig.from_env()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = _parser(defaults).parse_args(argv)
    try:
        config = replace(
            defaults,
            token=args.token,
            now=args.now,
            max_requests_per_minute=args.rate_limit,
            ban_seconds=args.ban_seconds,
            error_rate=args.error_rate,
            latency_seconds=args.latency,
            truncate_rate=args.truncate_rate,
            malformed_rate=args.malformed_rate,
            seed=args.seed,
            no_data=args.no_data,
            malformed_windows=args.malformed_windows,
            revision_share=args.revision_share,
            late_share=args.late_share,
            short_period_share=args.short_period_share,
            resolution_switch=args.resolution_switch,
            republish_hourly_share=args.republish_hourly_share,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s"
    )
    server = SimulatorServer(config, host=args.host, port=args.port)
    token_note = (
        f"token {DEMO_TOKEN!r}" if config.token == DEMO_TOKEN else "token from --token/ENTSOE_SIMULATOR_TOKEN"
    )
    print(f"ENTSO-E simulator listening on {server.url} ({token_note}); Ctrl-C stops it", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
