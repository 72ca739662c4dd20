"""Dagster writes the materializations of a range run, one per partition, in one batch only when
the environment variable DAGSTER_EVENT_BATCH_SIZE is set (to the most events per batch).

Unset, as by default, each of the hundreds of partitions of a history run costs its own inserts on
connections of their own (dagster-postgres holds no pool outside the webserver): on a small machine
that was most of a history fill's CPU. Batched, a run's partitions of one asset are one INSERT and
one transaction. Dagster reads the variable whenever it stores an event, so setting it in the code
location (imported by every run worker, which writes these events) is enough, however Dagster is
deployed. Nothing public configures this; entsoe_pipeline_tests/dagster/test_event_batching.py
fails if a Dagster upgrade stops batching them.

The events Dagster cannot batch (the check results of each partition, step and run events) each
open new connections in a run worker: 3 per check result, most of a 336-partition run's time. A run
worker's steps therefore first give its instance the small connection pool the webserver has
(``pool_instance_connections``; DagsterInstance.optimize_for_webserver, not documented as public).
Measured on the history fill of `make run`: 302 s without, 170 s with (run-level checks: 135 s).
The same test fails if the instance stops pooling.
"""

from __future__ import annotations

import os

import dagster as dg

VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# A year of daily partitions of one asset fits in one batch; a value already set is kept.
BATCH_SIZE = 1000


def batch_event_writes() -> None:
    os.environ.setdefault(VARIABLE, str(BATCH_SIZE))


# The instances whose storage already pools its connections (one per run worker).
_POOLED: set[int] = set()
POOL_RECYCLE_SECONDS = 3600
POOL_OVERFLOW = 4  # beyond the one held connection, for threads that write at the same time


def pool_instance_connections(instance: dg.DagsterInstance) -> None:
    """Keep ``instance``'s storage connections open for the rest of the process (without a
    statement timeout: a run's writes take as long as they take)."""
    if id(instance) in _POOLED:
        return
    instance.optimize_for_webserver(
        statement_timeout=0, pool_recycle=POOL_RECYCLE_SECONDS, max_overflow=POOL_OVERFLOW
    )
    _POOLED.add(id(instance))
