#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

if __name__ == "__main__":
    from tenantatlas.lib.private_files import restrict_umask

    restrict_umask()  # the data directory, its secrets and the SQLite database stay private
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantatlas.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
