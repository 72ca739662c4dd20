"""A local HTTP server that speaks the ENTSO-E Transparency Platform API: the same parameters,
document schemas and error answers, with deterministic synthetic data, injectable faults and, when
switched on, the platform's habits (habits.py: revisions, late days, short Periods, resolution
changes). ``SimulatorServer.published`` and ``revisions`` say what it served (truth.py).

Used in demo mode (no ENTSOE_API_TOKEN: ``python -m entsoe_pipeline.simulator``) and by the tests.
"""

from .config import DEMO_TOKEN, SimulatorConfig
from .server import SimulatorServer

__all__ = ["DEMO_TOKEN", "SimulatorConfig", "SimulatorServer"]
