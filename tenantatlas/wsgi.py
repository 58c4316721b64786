"""WSGI entry point (gunicorn tenantatlas.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

from tenantatlas.lib.private_files import restrict_umask

restrict_umask()  # gunicorn's workers create files too (the SQLite database of an embedded setup)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tenantatlas.settings")
application = get_wsgi_application()
