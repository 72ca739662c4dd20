"""Dagster writes the materializations of a range run, one per partition, in one batch only when
the environment variable DAGSTER_EVENT_BATCH_SIZE is set (to the most events per batch).

Unset, as by default, each of the hundreds of partitions of a history run costs its own inserts on
connections of their own (dagster-postgres holds no pool outside the webserver): on a small machine
that was most of a history fill's CPU. Batched, a run's partitions of one asset are one INSERT and
one transaction. Dagster reads the variable whenever it stores an event, so setting it in the code
location (imported by every run worker, which writes these events) is enough, however Dagster is
deployed. Nothing public configures this; entsoe_pipeline_tests/dagster/test_event_batching.py
fails if a Dagster upgrade stops batching them.
"""

from __future__ import annotations

import os

VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
# A year of daily partitions of one asset fits in one batch; a value already set is kept.
BATCH_SIZE = 1000


def batch_event_writes() -> None:
    os.environ.setdefault(VARIABLE, str(BATCH_SIZE))
