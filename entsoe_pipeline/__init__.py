"""Keeps a TimescaleDB copy of ENTSO-E Transparency Platform data complete and current."""
