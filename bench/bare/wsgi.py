"""WSGI entry point of the bare baseline app (`gunicorn --config config/gunicorn.py bare.wsgi`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ["DJANGO_SETTINGS_MODULE"] = "bare.settings"

application = get_wsgi_application()
