"""Shared test fixtures: real services (project-owned TimescaleDB, the simulator over HTTP) and the
ENTSO-E fixture documents."""

pytest_plugins = [
    "entsoe_pipeline_tests.fixtures.documents",
    "entsoe_pipeline_tests.fixtures.database",
    "entsoe_pipeline_tests.fixtures.simulator",
    "entsoe_pipeline_tests.fixtures.processes",
]
