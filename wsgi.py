"""WSGI entry point: ``gunicorn wsgi:app``."""

from friendsgroup import create_app

app = create_app()
