"""``build_defs(settings)``: every definition of the code location, from the catalogue and settings.

No I/O happens here, so definitions load offline and tests can build them with other settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from entsoe_pipeline.settings import Settings

from .derived import build_derived_assets
from .freshness import newest_spec
from .observations import build_observation_asset, observation_key, source_spec
from .priorities import AUTOMATION_PRIORITY
from .resources import default_resources
from .store_sensor import build_store_sensor


def build_defs(
    settings: Settings | None = None, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    settings = settings or Settings.from_env()
    observations = [
        build_observation_asset(e, a, settings) for e in settings.endpoints for a in settings.areas
    ]
    newest = [
        newest_spec(e, a, observation_key(e, a), settings) for e in settings.endpoints for a in settings.areas
    ]
    derived = build_derived_assets(settings)
    return dg.Definitions(
        # Code references: the UI links every asset to the line of the factory that built it.
        assets=dg.with_source_code_references(
            [*(source_spec(e) for e in settings.endpoints), *observations, *newest, *derived]
        ),
        sensors=[
            build_store_sensor(settings),
            # Declared explicitly: Dagster's implicit automation sensor starts STOPPED on a new instance.
            dg.AutomationConditionSensorDefinition(
                "entsoe_automation",
                # Everything that runs in TimescaleDB: the series and the tables derived from them.
                target=dg.AssetSelection.kind("timescaledb").materializable(),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=30,
                # Behind runs users launch and the store sensor's repairs (priorities.py).
                run_tags={"launched_by": "automation", "dagster/priority": AUTOMATION_PRIORITY},
            ),
        ],
        resources=dict(resources) if resources is not None else default_resources(),
        # Steps run one after another inside the run worker. A process per step would load the code
        # location again for each asset of each run (seconds of CPU on a small machine, for a step
        # that mostly waits on the API); the pool `entsoe_api` bounds the API calls either way, and
        # several runs give the parallelism.
        executor=dg.in_process_executor,
    )
