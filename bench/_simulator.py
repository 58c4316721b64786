"""Run the simulator in its own process for a benchmark:
``_simulator.py PORT STATE_DIR SCENARIOS.json [LIMITS.json]``.

The scenarios are TOML-shaped tables in JSON (``parse_tenant`` reads them), the optional limits
a ``[limits]`` table in JSON (``parse_limits``: Graph's throttling limits, enforced). It prints
``ready <base url>`` once it listens, answers the line ``usage`` on its standard input with one
JSON line of what each (app, tenant) pair sent (requests, 429s, 429s of the limits), and serves
until its standard input closes, so it never outlives the benchmark that started it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tenantatlas.simulator.limits import parse_limits
from tenantatlas.simulator.scenarios import parse_tenant
from tenantatlas.simulator.server import SimulatorServer


def main() -> None:
    port, state_dir, scenario_file = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    tenants = [parse_tenant(raw) for raw in json.loads(scenario_file.read_text())]
    limits = parse_limits(json.loads(Path(sys.argv[4]).read_text())) if len(sys.argv) > 4 else None
    server = SimulatorServer(state_dir, tenants, port=port, limits=limits).start()
    print("ready", server.base_url, flush=True)
    try:
        for line in sys.stdin:  # until the parent closes the pipe (or dies)
            if line.strip() == "usage":
                usage = {
                    f"{client} {tenant}": [u.requests, u.throttled, u.limited]
                    for (client, tenant), u in server.limiter.all_usage().items()
                }
                print(json.dumps(usage), flush=True)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
