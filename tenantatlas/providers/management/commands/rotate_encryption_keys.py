"""Re-encrypt every stored credential with the primary (first) encryption key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenantatlas.alerts.secrets import reseal_channel_secrets
from tenantatlas.lib.actors import COMMAND
from tenantatlas.lib.private_files import write_private_file
from tenantatlas.providers.services.credentials import rotate_encryption_keys


class Command(BaseCommand):
    help = (
        "Key rotation (docs/deploy.md): roll the new key out to every process second in "
        "TENANTATLAS_ENCRYPTION_KEYS, then first, then run this command; remove the old key "
        "last. Each run is audited (credential.keys_rotated). In the embedded setup, stop "
        "`tenantatlas serve`, run this with --add-key (a new primary key in the local key file), "
        "and start it again."
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
            write_private_file(Path(settings.ENCRYPTION_KEYS_FILE), "\n".join(keys) + "\n")
            settings.ENCRYPTION_KEYS = keys
            self.stdout.write(
                f"Added a new primary key to {settings.ENCRYPTION_KEYS_FILE}. Restart every "
                "TenantAtlas process that was running: it only knows the old keys."
            )
        counts = rotate_encryption_keys(actor=COMMAND)
        self.stdout.write(
            f"Re-encrypted {counts['reencrypted']} credential(s) "
            f"({counts['already_current']} already used the primary key); "
            f"{counts['unreadable']} unreadable with the configured keys."
        )
        channels = reseal_channel_secrets()
        self.stdout.write(
            f"Re-encrypted {channels['resealed']} alert channel secret(s); "
            f"{channels['unreadable']} unreadable with the configured keys."
        )
        if counts["unreadable"] or channels["unreadable"]:
            raise CommandError(
                "Some credentials or channel secrets could not be decrypted and were left unchanged: "
                "an old key is missing from the configuration."
            )
