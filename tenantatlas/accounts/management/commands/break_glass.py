"""`tenantatlas break_glass USERNAME`: a single-use, 15-minute sign-in link for one account.

For an installation whose password sign-in is turned off (TENANTATLAS_PASSWORD_SIGN_IN=false)
when Microsoft cannot sign anyone in (an outage, an expired client secret, a misconfigured
tenant list): whoever can run commands on the server can let one person in. Issuing the link and
using it are both audited.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenantatlas.accounts.identities import BREAK_GLASS_SECONDS, issue_break_glass_link
from tenantatlas.lib.actors import COMMAND
from tenantatlas.lib.errors import Refused


class Command(BaseCommand):
    help = "Print a single-use sign-in link (15 minutes) for an account, without its password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--site",
            default="",
            help="The address people reach the site by (https://atlas.example.com), "
            "to print a whole link instead of its path.",
        )

    def handle(self, *args: Any, username: str, site: str, **options: Any) -> None:
        users = get_user_model()._default_manager
        user = users.filter(**{users.model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No account named {username!r}.")
        try:
            path = issue_break_glass_link(actor=COMMAND, user=user)
        except Refused as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{site.rstrip('/')}{path}")
        self.stderr.write(
            f"Works once, for {BREAK_GLASS_SECONDS // 60} minutes, and only while {username} "
            "does not sign in some other way first."
        )
