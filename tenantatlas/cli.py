"""`tenantatlas` console command: the product's commands plus every Django command."""

from __future__ import annotations

import os
import sys

from tenantatlas.lib.private_files import restrict_umask

COMMANDS = {
    "serve": "Start everything on this machine (embedded: migrate, simulator + demo, workers, reaper, web).",
    "worker": "Process operation runs (database or RQ transport).",
    "reap": "Fail runs whose worker vanished, re-send queued runs, start due schedules (--loop).",
    "prune": "Delete what is older than its retention: runs, audit, notifications, alerts, tasks (--dry-run).",
    "demo": "Create the demo workspace whose connections point at the simulator.",
    "simulator": "Run the bundled Microsoft identity + Graph simulator alone (HTTPS on loopback).",
    "rotate_encryption_keys": "Re-encrypt all credentials with the primary key (--add-key for embedded).",
    "reason_codes_doc": "Write docs/reason-codes.md from the reason-code catalog (--check to verify).",
    "createsuperuser": "Create a user account (then invite it from a workspace's Members page).",
    "migrate": "Apply database migrations.",
    "axes_reset_username": "Unlock accounts locked by failed sign-ins (axes_list_attempts lists them).",
    "axes_reset_ip": "Unlock client addresses locked by failed sign-ins.",
    "break_glass": "Print a single-use sign-in link for an account (when passwords are off).",
}


def _usage() -> str:
    lines = ["usage: tenantatlas COMMAND [options]   (tenantatlas COMMAND --help for details)", ""]
    lines += [f"  {name.replace('_', '-'):24} {text}" for name, text in COMMANDS.items()]
    lines += ["", "Every Django management command works too (e.g. tenantatlas check)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    restrict_umask()  # before settings create the data directory, its secrets or the database
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantatlas.settings")
    if len(argv) < 2 or argv[1] in {"-h", "--help", "help"}:
        print(_usage())
        return
    argv[1] = argv[1].replace("-", "_") if argv[1].replace("-", "_") in COMMANDS else argv[1]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
