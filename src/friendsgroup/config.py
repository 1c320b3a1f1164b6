"""Configuration read from the environment, overridable per app."""

import os
from pathlib import Path


def default_database_url() -> str:
    """A SQLite file in the working directory, the embedded default.

    Kept relative to the working directory so that `make serve` and the CLI run from the
    repository share it; a command elsewhere finds no file there and says so (only
    `db upgrade` creates one), so the default never yields an empty registry by accident.
    """
    return f"sqlite:///{Path.cwd() / 'friendsgroup.sqlite3'}"


class Config:
    """Settings for one app; every value can be overridden by ``create_app(config)``."""

    def __init__(self) -> None:
        self.DATABASE_URL = os.environ.get("DATABASE_URL") or default_database_url()
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 1024 * 1024))
        self.DB_POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", 5))
        # Every wait on the database is bounded (seconds; 0: unbounded): past a bound the
        # request answers 503 with Retry-After rather than hold a server thread.
        self.DB_CONNECT_TIMEOUT = float(os.environ.get("DB_CONNECT_TIMEOUT", 2))
        self.DB_STATEMENT_TIMEOUT = float(os.environ.get("DB_STATEMENT_TIMEOUT", 3))
        self.DB_LOCK_TIMEOUT = float(os.environ.get("DB_LOCK_TIMEOUT", 2))
        self.DB_IDLE_IN_TRANSACTION_TIMEOUT = float(
            os.environ.get("DB_IDLE_IN_TRANSACTION_TIMEOUT", 10)
        )
        self.DB_POOL_TIMEOUT = float(os.environ.get("DB_POOL_TIMEOUT", 2))
        self.DB_WRITE_SLOT_TIMEOUT = float(os.environ.get("DB_WRITE_SLOT_TIMEOUT", 1))
        # Where clients reach the API (``https://registry.example.org``), for ``Link`` headers.
        self.PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "")
        self.RETRY_AFTER_SECONDS = int(os.environ.get("RETRY_AFTER_SECONDS", 5))
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "text").strip().lower() or "text"
        # Webhooks: targets, timeouts, leases and the retry schedule (seconds).
        self.WEBHOOK_ALLOW_PRIVATE = os.environ.get("WEBHOOK_ALLOW_PRIVATE", "") == "1"
        self.WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", 10))
        self.WEBHOOK_LEASE_SECONDS = float(os.environ.get("WEBHOOK_LEASE_SECONDS", 60))
        self.WEBHOOK_CONCURRENCY = int(os.environ.get("WEBHOOK_CONCURRENCY", 8))
        self.WEBHOOK_PER_ENDPOINT = int(os.environ.get("WEBHOOK_PER_ENDPOINT", 4))
        self.WEBHOOK_POLL_SECONDS = float(os.environ.get("WEBHOOK_POLL_SECONDS", 0.5))
        self.WEBHOOK_BACKOFF_BASE = float(os.environ.get("WEBHOOK_BACKOFF_BASE", 10))
        self.WEBHOOK_BACKOFF_CAP = float(os.environ.get("WEBHOOK_BACKOFF_CAP", 6 * 3600))
        self.WEBHOOK_GIVE_UP_AFTER = float(os.environ.get("WEBHOOK_GIVE_UP_AFTER", 25 * 3600))
        self.WEBHOOK_DISABLE_AFTER = float(os.environ.get("WEBHOOK_DISABLE_AFTER", 48 * 3600))
        self.FEED_TAG_AUTHORITY = os.environ.get("FEED_TAG_AUTHORITY", "friendsgroup.invalid")
        self.API_TITLE = "friendsgroup"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.1.0"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"

    def as_dict(self) -> dict:
        """The settings as a mapping for ``app.config.update``."""
        return {k: v for k, v in vars(self).items() if k.isupper()}
