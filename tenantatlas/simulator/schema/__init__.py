"""Microsoft's published Graph v1.0 schema, cut to what TenantAtlas reads (see README.md here).

Tests check the contract registry's v1.0 paths and the simulator's payloads against it; the
product itself never reads it.
"""

from pathlib import Path

SCHEMA_PATH = Path(__file__).resolve().parent / "graph-v1.0-schema-subset.json"
