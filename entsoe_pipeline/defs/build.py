"""``build_defs(settings)``: every definition of the code location, from the catalogue and settings.

No I/O happens here, so definitions load offline and tests can build them with other settings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from entsoe_pipeline.settings import Settings

from .derived import build_derived_assets
from .gap_sensor import BACKGROUND_PRIORITY, build_gap_sensor
from .observations import build_observation_asset, observation_key, source_spec
from .resources import default_resources
from .schedules import build_schedules
from .sweeps import build_sweep_schedules


def build_defs(
    settings: Settings | None = None, resources: Mapping[str, Any] | None = None
) -> dg.Definitions:
    settings = settings or Settings.from_env()
    observations = [
        build_observation_asset(e, a, settings) for e in settings.endpoints for a in settings.areas
    ]
    observation_keys = [observation_key(e, a) for e in settings.endpoints for a in settings.areas]
    derived = build_derived_assets(settings)
    # Everything that runs in TimescaleDB: the series and the tables derived from them.
    automated = dg.AssetSelection.kind("timescaledb")
    return dg.Definitions(
        # Code references: the UI links every asset to the line of the factory that built it.
        assets=dg.with_source_code_references(
            [*(source_spec(e) for e in settings.endpoints), *observations, *derived]
        ),
        schedules=[*build_schedules(settings), *build_sweep_schedules(settings)],
        sensors=[
            build_gap_sensor(settings, observation_keys),
            # Declared explicitly: Dagster's implicit automation sensor starts STOPPED on a new instance.
            dg.AutomationConditionSensorDefinition(
                "entsoe_automation",
                target=automated,
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=30,
                # Runs a user launches (priority 0) go before background gap filling.
                run_tags={"launched_by": "automation", "dagster/priority": BACKGROUND_PRIORITY},
            ),
        ],
        resources=dict(resources) if resources is not None else default_resources(),
    )
