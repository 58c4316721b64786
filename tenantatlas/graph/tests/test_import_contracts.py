"""The import contracts in .importlinter hold, and they do catch violations."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(settings.BASE_DIR)
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = [
    "api",
    "embedded",
    "overview",
    "observability",
    "onboarding",
    "providers",
    "operations",
    "inventory",
    "alerts",
    "notifications",
    "members",
    "accounts",
    "audit",
    "workspaces",
    "graph",
    "simulator",
    "badges",
    "lib",
]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_project_keeps_every_import_contract() -> None:
    assert (ROOT / ".importlinter").exists()
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 kept, 0 broken" in result.stdout


def _write(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = base / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_contracts_catch_violations(tmp_path: Path) -> None:
    """The same contracts, applied to a tiny project that breaks each of them once."""
    config = (ROOT / ".importlinter").read_text().replace("tenantatlas", "fakeatlas")
    _write(tmp_path, {f"fakeatlas/{layer}/__init__.py": "" for layer in LAYERS})
    _write(
        tmp_path,
        {
            ".importlinter": config,
            "fakeatlas/__init__.py": "",
            "fakeatlas/lib/__init__.py": "from fakeatlas import workspaces\n",
            "fakeatlas/operations/__init__.py": "from fakeatlas import inventory\n",
            "fakeatlas/workspaces/tests/__init__.py": "from fakeatlas import api\n",
            "fakeatlas/graph/__init__.py": "import msal\nimport requests\n",
            "fakeatlas/providers/__init__.py": "",
            "fakeatlas/providers/credentials.py": "",
            "fakeatlas/providers/gateway.py": "from fakeatlas.providers import credentials\n",
            "fakeatlas/providers/services.py": "from fakeatlas.providers import credentials\n",
            "fakeatlas/providers/tests/__init__.py": "import requests\n",
            "fakeatlas/shop/__init__.py": "",
            "fakeatlas/shop/views.py": "from fakeatlas.providers import gateway\n",
            "fakeatlas/shop/models.py": (
                "import requests\nfrom fakeatlas.providers import credentials\n"
            ),
        },
    )
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "0 kept, 4 broken" in result.stdout, result.stdout
    assert "fakeatlas.lib -> fakeatlas.workspaces" in result.stdout
    assert "fakeatlas.shop.models -> requests" in result.stdout
    assert "fakeatlas.shop.views -> fakeatlas.providers.gateway" in result.stdout
    assert "fakeatlas.shop.models -> fakeatlas.providers.credentials" in result.stdout
    # Allowed imports stay allowed: the graph package and tests, the gateway and services.
    assert "fakeatlas.graph ->" not in result.stdout
    assert "fakeatlas.providers.tests ->" not in result.stdout
    assert "fakeatlas.providers.gateway ->" not in result.stdout
    assert "fakeatlas.providers.services ->" not in result.stdout
    # A layer may import the layers below it; tests may import any layer.
    assert "fakeatlas.operations ->" not in result.stdout
    assert "fakeatlas.workspaces.tests ->" not in result.stdout
