"""Run the simulator in its own process for a benchmark: ``_simulator.py PORT STATE_DIR SCENARIOS.json``.

The scenarios are TOML-shaped tables in JSON (``parse_tenant`` reads them). It prints
``ready <base url>`` once it listens and serves until its standard input closes, so it
never outlives the benchmark that started it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenantatlas.simulator.scenarios import parse_tenant
from tenantatlas.simulator.server import SimulatorServer


def main() -> None:
    port, state_dir, scenario_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    tenants = [parse_tenant(raw) for raw in json.loads(scenario_file.read_text())]
    server = SimulatorServer(state_dir, tenants, port=port).start()
    print("ready", server.base_url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes the pipe (or dies)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
