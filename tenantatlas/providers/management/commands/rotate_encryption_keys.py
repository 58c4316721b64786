"""Re-encrypt every stored credential with the primary (first) encryption key."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenantatlas.providers.services import rotate_encryption_keys


class Command(BaseCommand):
    help = (
        "Key rotation: put a new key first in TENANTATLAS_ENCRYPTION_KEYS (keep the old ones after "
        "it), run this command, then remove the old keys. In the embedded setup, --add-key "
        "generates a new primary key in the local key file first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--add-key",
            action="store_true",
            help="Embedded setup: prepend a new key to the key file.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        keys = list(settings.ENCRYPTION_KEYS)
        if options["add_key"]:
            if not settings.ENCRYPTION_KEYS_FILE:
                raise CommandError(
                    "Keys come from TENANTATLAS_ENCRYPTION_KEYS: add the new key there yourself."
                )
            keys = [Fernet.generate_key().decode(), *keys]
            with open(settings.ENCRYPTION_KEYS_FILE, "w") as handle:
                handle.write("\n".join(keys) + "\n")
            settings.ENCRYPTION_KEYS = keys
            self.stdout.write(f"Added a new primary key to {settings.ENCRYPTION_KEYS_FILE}.")
        counts = rotate_encryption_keys()
        self.stdout.write(
            f"Re-encrypted {counts['reencrypted']} credential(s) "
            f"({counts['already_current']} already used the primary key); "
            f"{counts['unreadable']} unreadable with the configured keys."
        )
        if counts["unreadable"]:
            raise CommandError(
                "Some credentials could not be decrypted and were left unchanged: "
                "an old key is missing from the configuration."
            )
