"""The token of demo mode.

Not a secret: it opens only the bundled simulator, which the pipeline runs against when no
ENTSOE_API_TOKEN is set. The client lets it travel over plain HTTP; a real token never does.
"""

DEMO_TOKEN = "entsoe-simulator-demo-token"
