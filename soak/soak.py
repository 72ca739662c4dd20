"""``make soak``: a bounded soak that shows nothing is lost while faults strike at random.

`dagster dev` runs the pipeline (automation, store sensor, history backfills) against the bundled
simulator, served in this process on its real clock with the platform's rate limit and ban, and
against a data database in a private PostgreSQL cluster, so that stopping it leaves Dagster's own
storage (a fresh database in the project's cluster) alone. For SOAK_MINUTES (default 8) a seeded
injector (SOAK_SEED) strikes every 15 to 40 s: a burst of 5xx answers, connection resets, slow
answers, truncated bodies, a revoked token, the data cluster stopped for a while, or SIGKILL for a
run worker. Meanwhile every stored row is watched: none may vanish, and none may change except to
the value the platform publishes.

Then the faults stop and the catch-up begins: the runs settle, a partition backfill of every
partition not successfully materialized is launched through GraphQL (as from the UI's Materialize
dialog) and awaited, and the store is compared with the simulator's truth over every day that was
complete when the soak began (values over every stored day). The report (also in
.local/soak-report.json) gives runs, rows, faults by kind, requests, the most requests in any 60 s
against the ban threshold, bans and rows lost; the exit code is 1 when a row was lost or the
simulator banned the pipeline.

Run it through ``make soak`` (scripts/soak.sh), which starts the project's cluster first.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2
import requests

from entsoe_pipeline import catalog, storage
from entsoe_pipeline.audit import compare
from entsoe_pipeline.ingest import expected_until
from entsoe_pipeline.simulator import SimulatorConfig, SimulatorServer
from entsoe_pipeline_tests.fixtures.live_dagster import (
    RUN_IN_PROGRESS,
    DagsterDev,
    RecordingSimulator,
    cmdline,
    dagster_database,
    launch_backfill,
    leaked_slots,
    max_per_window,
    not_materialized,
    run_count,
    settle,
    stop_pids,
    wait_backfill,
)
from entsoe_pipeline_tests.fixtures.private_cluster import PrivateCluster, db_script
from entsoe_pipeline_tests.fixtures.processes import descendants

REPO = Path(__file__).resolve().parents[1]
REPORT_PATH = REPO / ".local" / "soak-report.json"
DAGSTER_LOG_PATH = REPO / ".local" / "soak-dagster-dev.log"
# Processes started here carry this variable, so that whatever outlives its parent is still found.
MARKER = "ENTSOE_SOAK_SESSION"

AREAS = ("NL", "FR", "DE_LU")
ENDPOINTS = ("actual_load", "day_ahead_load_forecast")
HISTORY_DAYS = 120
BAN_THRESHOLD = 400  # requests per minute, as the platform's
BAN_SECONDS = 600.0
FAULT_EVERY = (15.0, 40.0)
SNAPSHOT_EVERY = 20.0
PROGRESS_EVERY = 30.0


# -- configuration -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SoakConfig:
    minutes: float
    seed: int
    catchup_minutes: float
    instance_yaml: Path

    @classmethod
    def from_env(cls) -> SoakConfig:
        seed_text = os.environ.get("SOAK_SEED", "").strip()
        instance_yaml = Path(os.environ.get("SOAK_INSTANCE_YAML", "").strip() or REPO / "dagster.yaml")
        if not instance_yaml.is_file():
            raise SystemExit(f"error: SOAK_INSTANCE_YAML={instance_yaml} is not a file")
        return cls(
            minutes=_bounded("SOAK_MINUTES", 8.0, 1.0, 60.0),
            seed=int(seed_text) if seed_text else random.randrange(1_000_000),
            catchup_minutes=_bounded("SOAK_CATCHUP_MINUTES", 20.0, 2.0, 60.0),
            instance_yaml=instance_yaml.resolve(),
        )


def _bounded(name: str, default: float, low: float, high: float) -> float:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SystemExit(f"error: {name}={text!r} is not a number") from None
    if not low <= value <= high:
        raise SystemExit(f"error: {name}={text} must be between {low:g} and {high:g}")
    return value


# -- output ------------------------------------------------------------------------------------------


class Clock:
    """Seconds since the soak began, for the log lines."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def stamp(self) -> str:
        minutes, seconds = divmod(int(self.elapsed()), 60)
        return f"[{minutes:3d}m{seconds:02d}s]"


CLOCK = Clock()


def say(message: str) -> None:
    print(f"{CLOCK.stamp()} {message}", flush=True)


# -- processes -----------------------------------------------------------------------------------------


def marked_processes(marker: str) -> set[int]:
    """The processes whose environment holds ``MARKER=marker`` (orphans of killed parents included)."""
    needle = f"{MARKER}={marker}".encode()
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0") and cmdline(int(entry.name)):
                found.add(int(entry.name))
        except OSError:
            continue
    return found


# -- the simulator -------------------------------------------------------------------------------------


# -- the data cluster ----------------------------------------------------------------------------------


# -- dagster dev ---------------------------------------------------------------------------------------

# -- faults --------------------------------------------------------------------------------------------

FAULT_KINDS = (
    "api_5xx_burst",
    "api_resets",
    "api_latency",
    "api_truncated",
    "token_revoked",
    "db_down",
    "kill_run_worker",
)


class FaultInjector(threading.Thread):
    """Every 15 to 40 s one fault of FAULT_KINDS, drawn with a seeded RNG; a fault that lasts is
    undone before the next is drawn, and at once when the injector stops."""

    def __init__(
        self, rng: random.Random, sim: SimulatorServer, cluster: PrivateCluster, dev: DagsterDev
    ) -> None:
        super().__init__(name="soak-faults", daemon=True)
        self.rng = rng
        self.sim = sim
        self.cluster = cluster
        self.dev = dev
        self.stopping = threading.Event()
        self.counts: Counter[str] = Counter()
        self.timeline: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.orphans = 0

    def run(self) -> None:
        next_at = time.monotonic() + self.rng.uniform(*FAULT_EVERY)
        while not self.stopping.wait(max(0.0, next_at - time.monotonic())):
            next_at = time.monotonic() + self.rng.uniform(*FAULT_EVERY)
            kind = self.rng.choice(FAULT_KINDS)
            at = round(CLOCK.elapsed(), 1)
            try:
                detail = self.inject(kind)
                if detail is None:  # no run worker at this moment: strike elsewhere
                    kind = self.rng.choice([k for k in FAULT_KINDS if k != "kill_run_worker"])
                    detail = self.inject(kind)
            except Exception as exc:  # a fault that cannot be injected or undone is reported, not fatal
                self.errors.append(f"{kind}: {exc}")
                say(f"fault {kind} failed: {exc}")
                continue
            self.counts[kind] += 1
            self.timeline.append({"at_seconds": at, "kind": kind, "detail": detail})

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=120)
        # Whatever happened in the thread, nothing stays broken for the catch-up.
        self.sim.set_faults(
            error_burst=0, reset_rate=0.0, latency_seconds=0.0, truncate_rate=0.0, revoked=False
        )
        if self.cluster.down:
            self.cluster.start()

    def _for_a_while(
        self, kind: str, detail: str, seconds: float, on: dict[str, Any], off: dict[str, Any]
    ) -> str:
        say(f"fault {kind}: {detail}")
        self.sim.set_faults(**on)
        try:
            self.stopping.wait(seconds)
        finally:
            self.sim.set_faults(**off)
        return detail

    def inject(self, kind: str) -> str | None:
        """Strike with ``kind`` (and undo it when it lasts); None when there is nothing to strike."""
        rng = self.rng
        if kind == "api_5xx_burst":
            count = rng.randint(4, 12)
            self.sim.set_faults(error_burst=count)
            detail = f"the next {count} answers are 500/503"
        elif kind == "api_resets":
            seconds = rng.uniform(10, 30)
            detail = f"half the data answers reset mid-body for {seconds:.0f} s"
            return self._for_a_while(kind, detail, seconds, {"reset_rate": 0.5}, {"reset_rate": 0.0})
        elif kind == "api_latency":
            seconds, latency = rng.uniform(15, 30), rng.uniform(3, 10)
            detail = f"answers {latency:.1f} s slow for {seconds:.0f} s"
            return self._for_a_while(
                kind, detail, seconds, {"latency_seconds": latency}, {"latency_seconds": 0.0}
            )
        elif kind == "api_truncated":
            seconds = rng.uniform(10, 30)
            detail = f"half the data bodies cut in half for {seconds:.0f} s"
            return self._for_a_while(kind, detail, seconds, {"truncate_rate": 0.5}, {"truncate_rate": 0.0})
        elif kind == "token_revoked":
            seconds = rng.uniform(8, 12)
            detail = f"the token is refused (401) for {seconds:.0f} s"
            return self._for_a_while(kind, detail, seconds, {"revoked": True}, {"revoked": False})
        elif kind == "db_down":
            seconds = rng.uniform(5, 20)
            detail = f"data cluster stopped for {seconds:.0f} s"
            say(f"fault {kind}: {detail}")
            self.cluster.stop()
            try:
                self.stopping.wait(seconds)
            finally:
                self.cluster.start()
            return detail
        elif kind == "kill_run_worker":
            workers = self.dev.workers()
            if not workers:
                return None
            victim = rng.choice(workers)
            children = descendants(victim) & set(workers)
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
            detail = f"SIGKILL to {'run' if children else 'step'} worker {victim} (of {len(workers)} workers)"
            if children:
                # A run worker's step workers are not killed with it: see whether they go on.
                self.stopping.wait(10)
                alive = sorted(p for p in children if Path(f"/proc/{p}").exists())
                if alive:
                    self.orphans += len(alive)
                    detail += f"; its step worker(s) {alive} still ran 10 s later"
        else:
            raise ValueError(f"unknown fault {kind}")
        say(f"fault {kind}: {detail}")
        return detail


# -- loss watch ----------------------------------------------------------------------------------------

Key = tuple[str, str, str, str, str, datetime]


class LossMonitor(threading.Thread):
    """Reads every stored row every SNAPSHOT_EVERY s: a row once stored must stay, and keep its value
    unless it changed to what the platform publishes for it."""

    def __init__(self, dsn: str, sim: SimulatorServer) -> None:
        super().__init__(name="soak-loss-watch", daemon=True)
        self.dsn = dsn
        self.sim = sim
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.seen: dict[Key, float] = {}
        self.vanished: set[Key] = set()
        self.changed: set[Key] = set()
        self.snapshots = 0
        self.skipped = 0
        self.rows = 0

    def run(self) -> None:
        while not self.stopping.wait(SNAPSHOT_EVERY):
            self.snapshot()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=120)

    def snapshot(self) -> bool:
        try:
            rows = fetch_all(
                self.dsn,
                "SELECT endpoint, area, business_type, psr_type, variant, time, value"
                " FROM entsoe.observations",
            )
        except psycopg2.Error:  # the cluster is down (a fault) or the schema is not there yet
            self.skipped += 1
            return False
        now: dict[Key, float] = {(r[0], r[1], r[2], r[3], r[4], r[5]): float(r[6]) for r in rows}
        with self.lock:
            for key, value in self.seen.items():
                current = now.get(key)
                if current is None:
                    if key not in self.vanished:
                        say(f"LOSS: a stored row vanished: {_describe(key)} (value {value})")
                    self.vanished.add(key)
                elif current != value and key not in self.changed and not self._is_published(key, current):
                    say(f"LOSS: a stored value changed: {_describe(key)} {value} -> {current}")
                    self.changed.add(key)
            self.seen.update(now)
            self.snapshots += 1
            self.rows = len(now)
        return True

    def _is_published(self, key: Key, value: float) -> bool:
        endpoint, area, business_type, psr_type, variant, moment = key
        day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        truth = self.sim.published(endpoint, area, day, day + timedelta(days=1))
        hit = truth[
            (truth["time"] == pd.Timestamp(moment))
            & (truth["business_type"] == business_type)
            & (truth["psr_type"] == psr_type)
            & (truth["variant"] == variant)
        ]
        return bool(len(hit)) and float(hit["value"].iloc[0]) == value


def _describe(key: Key) -> str:
    endpoint, area, business_type, psr_type, variant, moment = key
    series = "/".join(x for x in (business_type, psr_type, variant) if x)
    return f"{endpoint} {catalog.area(area).name} {series} {moment.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


# -- catch-up ------------------------------------------------------------------------------------------


def asset_paths() -> list[list[str]]:
    return [["entsoe", e, catalog.area(a).key] for e in ENDPOINTS for a in AREAS]


# -- the final comparison ------------------------------------------------------------------------------


@dataclass
class Comparison:
    compared: int = 0
    missing: int = 0
    mismatched: int = 0
    stale: int = 0
    pending: int = 0  # published after the soak began and not stored: not yet due, not counted
    per_series: list[dict[str, Any]] = field(default_factory=list)


def due_end(endpoint: catalog.Endpoint, moment: datetime) -> datetime:
    """The end of the last daily partition whose data is all published at ``moment``."""
    until = expected_until(endpoint, moment)
    return until.replace(hour=0, minute=0, second=0, microsecond=0)


def compare_with_truth(
    dsn: str, sim: SimulatorServer, history_start: datetime, began: datetime
) -> Comparison:
    """The store against the simulator's truth: every published point of the days complete when the
    soak began must be stored with its value; every stored point must be published with its value."""
    result = Comparison()
    horizon = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=3)
    for name in ENDPOINTS:
        endpoint = catalog.endpoint(name)
        cutoff = due_end(endpoint, began)
        for area_name in AREAS:
            area = catalog.area(area_name)
            row: dict[str, Any] = {"endpoint": name, "area": area_name, "complete_until": cutoff.isoformat()}
            for part, (lo, hi) in (("complete", (history_start, cutoff)), ("recent", (cutoff, horizon))):
                truth = sim.published(endpoint, area, lo, hi)
                truth = truth[(truth["time"] >= lo) & (truth["time"] < hi)]
                stored = storage.stored_points(dsn, name, area.eic, lo, hi)
                summary = compare(truth, stored)
                counts = {c: int(summary[c].sum()) for c in ("compared", "mismatched", "missing", "stale")}
                row.update({f"{part}_{c}": n for c, n in counts.items()})
                result.compared += counts["compared"]
                result.mismatched += counts["mismatched"]
                result.stale += counts["stale"]
                if part == "complete":
                    result.missing += counts["missing"]
                else:
                    result.pending += counts["missing"]
            result.per_series.append(row)
    return result


def fetch_all(dsn: str, query: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(psycopg2.connect(dsn, connect_timeout=5)) as conn, conn.cursor() as cur:
        cur.execute(query)
        return cur.fetchall()


def rows_stored(dsn: str) -> int:
    return int(fetch_all(dsn, "SELECT count(*) FROM entsoe.observations")[0][0])


# -- the soak ------------------------------------------------------------------------------------------


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class Cleanup(contextlib.ExitStack):
    """An ExitStack that a second Ctrl-C cannot cut short: what was started is always stopped."""

    def __exit__(self, *exc_info: Any) -> bool:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        return bool(super().__exit__(*exc_info))


def soak(config: SoakConfig) -> int:
    marker = uuid.uuid4().hex
    os.environ[MARKER] = marker  # every child inherits it
    rng = random.Random(config.seed)
    today = datetime.now(UTC).date()
    history_start = today - timedelta(days=HISTORY_DAYS)
    if config.instance_yaml != REPO / "dagster.yaml":
        say(f"instance configuration: {config.instance_yaml} (SOAK_INSTANCE_YAML)")
    say(
        f"soak: {config.minutes:g} min of faults (seed {config.seed}), then a catch-up of at most "
        f"{config.catchup_minutes:g} min; areas {','.join(AREAS)}, endpoints {','.join(ENDPOINTS)}, "
        f"history from {history_start}"
    )
    with Cleanup() as stack:
        stack.callback(_reap, marker)
        sim = RecordingSimulator(
            SimulatorConfig(max_requests_per_minute=BAN_THRESHOLD, ban_seconds=BAN_SECONDS, seed=config.seed)
        )
        stack.callback(sim.stop)
        say(f"simulator on {sim.url} (bans above {BAN_THRESHOLD} requests a minute)")

        cluster = PrivateCluster("soak", {**os.environ, MARKER: marker})
        stack.callback(cluster.remove)
        cluster.start()
        say(
            f"data database in a private cluster: {cluster.local_dir.relative_to(REPO)} "
            f"(port {cluster.env['ENTSOE_PG_PORT']})"
        )

        admin_url = db_script({k: v for k, v in os.environ.items() if k != "ENTSOE_LOCAL_DIR"}, "admin-url")
        dagster_pg = stack.enter_context(dagster_database(admin_url, f"dagster_soak_{marker[:8]}"))
        home = Path(tempfile.mkdtemp(prefix="soak-dagster-home-"))
        stack.callback(shutil.rmtree, home, True)
        # The instance configuration as shipped (pools, run queue, monitoring), or SOAK_INSTANCE_YAML.
        shutil.copy(config.instance_yaml, home / "dagster.yaml")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ENTSOE_", "DAGSTER_"))},
            MARKER: marker,
            **dagster_pg,
            "DAGSTER_HOME": str(home),
            "ENTSOE_API_URL": sim.url,
            "ENTSOE_DATABASE_URL": cluster.url,
            "ENTSOE_AREAS": ",".join(AREAS),
            "ENTSOE_ENDPOINTS": ",".join(ENDPOINTS),
            "ENTSOE_HISTORY_START": history_start.isoformat(),
            "ENTSOE_STORE_SENSOR_INTERVAL_SECONDS": "30",
            "ENTSOE_RETRY_DELAY_SECONDS": "5",
        }
        dev = DagsterDev(home, env, DAGSTER_LOG_PATH)
        stack.callback(dev.stop)
        say(f"starting dagster dev on 127.0.0.1:{dev.port} (log: {DAGSTER_LOG_PATH.relative_to(REPO)})")
        dev.start()
        say("code location loaded; the automation fills the history on its own")

        began = datetime.now(UTC)
        monitor = LossMonitor(cluster.url, sim)
        monitor.start()
        stack.callback(monitor.stop)
        injector = FaultInjector(rng, sim, cluster, dev)
        injector.start()
        stack.callback(injector.stop)

        end = time.monotonic() + config.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(PROGRESS_EVERY, max(0.0, end - time.monotonic())))
            if dev.exited():
                raise RuntimeError(f"dagster dev exited; see {DAGSTER_LOG_PATH}")
            _progress(dev.url, sim, monitor, injector)

        say("faults stop; catch-up")
        injector.stop()
        catch_up_started = time.monotonic()
        catchup_deadline = catch_up_started + config.catchup_minutes * 60
        settled = settle(
            dev.url,
            timeout=(catchup_deadline - time.monotonic()) / 2,
            report=lambda state: say(f"catch-up: {state}"),
        )
        say("runs settled" if settled else "runs did not settle in time; launching the catch-up anyway")
        leaked = _safe(lambda: leaked_slots(dev.url), [])
        if leaked:
            say(f"POOL: entsoe_api slots or queued steps held by finished runs: {leaked}")
        missing = not_materialized(dev.url, asset_paths())
        relaunched = sum(len(v) for v in missing.values())
        backfill_status = "not needed"
        if relaunched:
            say(
                f"catch-up backfill of {relaunched} partitions not materialized: "
                + ", ".join(f"{'/'.join(p)} {len(k)}" for p, k in missing.items() if k)
            )
            backfill_id = launch_backfill(dev.url, missing, "soak: catch-up", {"launched_by": "soak"})
            if backfill_id:
                backfill_status = wait_backfill(dev.url, backfill_id, catchup_deadline - time.monotonic())
            say(f"catch-up backfill: {backfill_status}")
        settle(dev.url, timeout=max(30.0, min(180.0, catchup_deadline - time.monotonic())), quiet=15)
        still_missing = sum(len(v) for v in not_materialized(dev.url, asset_paths()).values())
        leaked = _safe(lambda: leaked_slots(dev.url), leaked)

        monitor.stop()
        monitor.snapshot()
        comparison = compare_with_truth(
            cluster.url, sim, datetime.combine(history_start, datetime.min.time(), UTC), began
        )
        answered = sim.answered()
        runs = {
            "total": run_count(dev.url),
            "succeeded": run_count(dev.url, ["SUCCESS"]),
            "failed": run_count(dev.url, ["FAILURE"]),
            "canceled": run_count(dev.url, ["CANCELED"]),
        }
        statuses = Counter(status for _, status in answered)
        rows_lost = (
            comparison.missing
            + comparison.mismatched
            + comparison.stale
            + len(monitor.vanished)
            + len(monitor.changed)
        )
        bans = statuses.get(429, 0)
        report = {
            "seed": config.seed,
            "soak_minutes": config.minutes,
            "began": began.isoformat(timespec="seconds"),
            "catch_up_seconds": round(time.monotonic() - catch_up_started),
            "history_start": history_start.isoformat(),
            "instance_yaml": str(config.instance_yaml),
            "areas": list(AREAS),
            "endpoints": list(ENDPOINTS),
            "runs": runs,
            "rows_stored": rows_stored(cluster.url),
            "faults": dict(sorted(injector.counts.items())),
            "faults_total": sum(injector.counts.values()),
            "fault_errors": injector.errors,
            "fault_timeline": injector.timeline,
            "requests": {
                "total": len(answered),
                "by_status": {str(k): v for k, v in sorted(statuses.items())},
                "max_per_minute": max_per_window([t for t, _ in answered]),
                "ban_threshold_per_minute": BAN_THRESHOLD,
                "bans": bans,
            },
            "catch_up": {
                "settled": settled,
                "partitions_relaunched": relaunched,
                "backfill_status": backfill_status,
                "partitions_not_materialized_after": still_missing,
                "pool_held_by_finished_runs": leaked,
            },
            "loss": {
                "snapshots": monitor.snapshots,
                "snapshots_skipped_db_down": monitor.skipped,
                "compared": comparison.compared,
                "missing": comparison.missing,
                "mismatched": comparison.mismatched,
                "stale": comparison.stale,
                "vanished": len(monitor.vanished),
                "changed": len(monitor.changed),
                "rows_lost": rows_lost,
                "not_yet_due": comparison.pending,
                "vanished_sample": [_describe(k) for k in sorted(monitor.vanished)[:20]],
                "changed_sample": [_describe(k) for k in sorted(monitor.changed)[:20]],
                "per_series": comparison.per_series,
            },
        }
        report["findings"] = _findings(leaked, injector.orphans)
        report["passed"] = rows_lost == 0 and bans == 0
        REPORT_PATH.parent.mkdir(parents=True, exist_ok=True)
        REPORT_PATH.write_text(json.dumps(report, indent=2) + "\n")
        print(_render(report), flush=True)
        return 0 if report["passed"] else 1
    return 2  # unreachable: the with block returns or raises


def _findings(leaked: list[dict[str, str]], orphans: int) -> list[str]:
    """What the soak saw that loses no rows by itself but deserves a look."""
    out = []
    if leaked:
        claimed = sum(1 for x in leaked if x["hold"] == "claimed")
        runs = len({x["run_id"] for x in leaked})
        out.append(
            f"{runs} finished run(s) (run worker killed) still hold the entsoe_api pool: {claimed} slot(s) "
            f"claimed, {len(leaked) - claimed} step(s) queued for one; only their run worker would have "
            "given them back, so runs of the pool queue behind them until they are freed (in the UI, or "
            "by run_monitoring.free_slots_after_run_end_seconds in dagster.yaml)"
        )
    if orphans:
        out.append(
            f"{orphans} step worker(s) of killed run workers kept running; once their slots are freed, "
            "they call the API beside the pool's steps (each process has its own rate limiter)"
        )
    return out


def _safe(call: Callable[[], Any], default: Any) -> Any:
    try:
        return call()
    except (requests.RequestException, RuntimeError, KeyError, TypeError):
        return default


def _progress(url: str, sim: RecordingSimulator, monitor: LossMonitor, injector: FaultInjector) -> None:
    answered = sim.answered()
    try:
        runs = (
            f"runs {run_count(url)} (ok {run_count(url, ['SUCCESS'])}, failed {run_count(url, ['FAILURE'])}, "
        )
        runs += f"in progress {run_count(url, RUN_IN_PROGRESS)})"
    except (requests.RequestException, RuntimeError) as exc:
        runs = f"runs ? ({type(exc).__name__})"
    lost = len(monitor.vanished) + len(monitor.changed)
    peak = max_per_window([t for t, _ in answered])
    say(
        f"{runs}; rows {monitor.rows}; requests {len(answered)}, max {peak}"
        f"/min, bans {sum(1 for _, s in answered if s == 429)}; faults {sum(injector.counts.values())}; "
        f"lost so far {lost}"
    )


def _render(report: dict[str, Any]) -> str:
    r, q, loss, c = report["runs"], report["requests"], report["loss"], report["catch_up"]
    faults = ", ".join(f"{k} {v}" for k, v in report["faults"].items()) or "none"
    lines = [
        "",
        f"soak report (seed {report['seed']}, {report['soak_minutes']:g} min of faults, "
        f"catch-up {report['catch_up_seconds']} s)",
        f"  runs            {r['total']} total, {r['succeeded']} succeeded, {r['failed']} failed, "
        f"{r['canceled']} canceled",
        f"  rows stored     {report['rows_stored']}",
        f"  faults injected {report['faults_total']}: {faults}",
        f"  requests        {q['total']}; max {q['max_per_minute']} in any 60 s "
        f"(ban threshold {q['ban_threshold_per_minute']}/min); bans {q['bans']}",
        f"  catch-up        {c['partitions_relaunched']} partitions relaunched ({c['backfill_status']}); "
        f"{c['partitions_not_materialized_after']} not materialized after; "
        f"{len(c['pool_held_by_finished_runs'])} pool slots or queued steps held by finished runs",
        f"  compared        {loss['compared']} points with the platform's truth "
        f"({loss['not_yet_due']} published since the start, not yet due)",
        f"  rows lost       {loss['rows_lost']} (missing {loss['missing']}, mismatched {loss['mismatched']}, "
        f"stale {loss['stale']}, vanished {loss['vanished']}, changed {loss['changed']})",
        *(f"  finding         {f}" for f in report["findings"]),
        f"  result          {'PASS' if report['passed'] else 'FAIL'} "
        f"(report: {REPORT_PATH.relative_to(REPO)})",
    ]
    return "\n".join(lines)


def _reap(marker: str) -> None:
    """Whatever this soak started that still runs (orphaned run or step workers) is stopped."""
    left = marked_processes(marker)
    if left:
        say(f"stopping {len(left)} leftover process(es): {sorted(left)}")
        stop_pids(left, timeout=10)


def main() -> int:
    config = SoakConfig.from_env()
    signal.signal(signal.SIGTERM, _terminate)
    try:
        return soak(config)
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    except (
        RuntimeError,
        TimeoutError,
        psycopg2.Error,
        requests.RequestException,
        storage.StorageError,
    ) as exc:
        say(f"soak failed: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
