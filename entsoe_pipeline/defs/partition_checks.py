"""Check results per partition in a run over a range of partitions: the pipeline's second use of
Dagster internals.

Dagster 1.13 files a partitioned check's result under the partition the result names. An
``AssetCheckResult`` cannot name one: Dagster takes it from the run, and a range run (a backfill's,
a revision sweep's) has a range, not a partition, so the result would land on no partition. The
exported ``AssetCheckEvaluation`` names one, but its status counts (in the UI's per-partition view
and for automation conditions such as ``all_deps_blocking_checks_passed``) only if it points at the
partition's latest materialization, and the type of that pointer is not exported. And since no
``AssetCheckResult`` is returned, the step must yield each check's output itself, under the output
name the asset definition gives it (``AssetsDefinition.node_check_specs_by_output_name``, not
public either). Single-partition runs keep the public ``AssetCheckResult``.

entsoe_pipeline_tests/dagster/test_partition_checks.py runs ranges through this module and reads
each partition's check status back as the UI and the automation read it, so an upgrade that
changes either internal fails that test, not a backfill in production.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)


def partition_check_events(
    context: dg.AssetExecutionContext, results: Mapping[str, Sequence[dg.AssetCheckResult]]
) -> Iterator[dg.Output | dg.AssetCheckEvaluation]:
    """The events that record ``results`` (per partition key, the check results of that partition
    of ``context``'s asset), to yield after the partitions' materializations were yielded."""
    key = context.asset_key
    selected = context.selected_asset_check_keys
    reported = {dg.AssetCheckKey(key, r.check_name or "") for checks in results.values() for r in checks}
    for name, spec in context.assets_def.node_check_specs_by_output_name.items():
        if spec.key in selected and spec.key in reported:
            yield dg.Output(None, output_name=name)
    blocking = {spec.key: spec.blocking for spec in context.assets_def.check_specs}
    latest = _latest_materializations(context.instance, key, list(results))
    for partition, checks in results.items():
        for result in checks:
            check_key = dg.AssetCheckKey(key, result.check_name or "")
            if check_key in selected:
                yield check_evaluation(
                    key, partition, result, blocking=blocking[check_key], target=latest.get(partition)
                )


def check_evaluation(
    key: dg.AssetKey,
    partition: str,
    result: dg.AssetCheckResult,
    *,
    blocking: bool,
    target: dg.EventLogRecord | None,
) -> dg.AssetCheckEvaluation:
    """``result`` as the evaluation of ``key``'s check on ``partition``, of the materialization
    ``target`` (the partition's latest)."""
    return dg.AssetCheckEvaluation(
        asset_key=key,
        check_name=result.check_name or "",
        passed=result.passed,
        metadata=result.metadata,
        severity=result.severity,
        description=result.description,
        blocking=blocking,
        partition=partition,
        target_materialization_data=(
            AssetCheckEvaluationTargetMaterializationData(
                storage_id=target.storage_id, run_id=target.run_id, timestamp=target.timestamp
            )
            if target
            else None
        ),
    )


def _latest_materializations(
    instance: dg.DagsterInstance, key: dg.AssetKey, partitions: Sequence[str]
) -> dict[str, dg.EventLogRecord]:
    """Each partition's latest materialization, as Dagster's own results target: one query for the
    run's partitions, one more per partition another run materialized meanwhile."""
    if not partitions:
        return {}
    found = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=list(partitions)), limit=len(partitions)
    )
    latest: dict[str, dg.EventLogRecord] = {}
    for record in found.records:
        if record.partition_key is not None:
            latest.setdefault(record.partition_key, record)
    for partition in partitions:
        if partition not in latest:
            one = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1
            ).records
            if one:
                latest[partition] = one[0]
    return latest
