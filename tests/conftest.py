"""Fixtures: a migrated database per test worker (SQLite, or PostgreSQL via TEST_DATABASE_URL),
an app, a client, a CLI runner, a token, and a clean database for every test."""

import os
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from friendsgroup import create_app
from friendsgroup.api.report_cache import REPORT_CACHE
from friendsgroup.db import get_db
from friendsgroup.lookups import GROUP_CACHE
from friendsgroup.migrate import upgrade
from friendsgroup.models import Base
from friendsgroup.web.kept import PAGE_CACHE

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _fresh_postgres_database(base_url: str, suffix: str) -> str:
    """Create (or re-create) a database named after the base one and ``suffix``."""
    url = make_url(base_url)
    name = f"{url.database}_{suffix}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def blank_database_factory(tmp_path_factory):
    """Make empty databases of the kind under test."""
    counter = iter(range(1000))

    def make() -> str:
        n = next(counter)
        if TEST_DATABASE_URL:
            return _fresh_postgres_database(TEST_DATABASE_URL, f"{_worker()}_blank{n}")
        return f"sqlite:///{tmp_path_factory.mktemp('blank') / f'blank{n}.sqlite3'}"

    return make


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """One migrated database per test worker."""
    if TEST_DATABASE_URL:
        url = _fresh_postgres_database(TEST_DATABASE_URL, _worker())
    else:
        url = f"sqlite:///{Path(tmp_path_factory.mktemp('db')) / 'test.sqlite3'}"
    upgrade(url)
    return url


# Every table emptied, dependents first, and on PostgreSQL every sequence restarted, in one
# round trip. Not TRUNCATE: it gives each table and index a new file, 0.15-0.25 s a test,
# where deleting the few rows a test leaves takes 5-10 ms.
_TABLES = [table.name for table in reversed(Base.metadata.sorted_tables)]
_RESTART_SEQUENCES = (
    "SELECT setval(c.oid, 1, false) FROM pg_class c "
    "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
)


def clean(app) -> None:
    """Empty every table, keeping the schema and its migration mark, and forget cached rows."""
    for cache in (GROUP_CACHE, REPORT_CACHE, PAGE_CACHE):
        app.extensions.pop(cache, None)
    engine = get_db(app).engine
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            deletes = "; ".join(f"DELETE FROM {table}" for table in _TABLES)
            connection.exec_driver_sql(f"{deletes}; {_RESTART_SEQUENCES}")
        else:
            for table in _TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
            # The planner's statistics too: a test that gathers them starts without any.
            connection.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")


@pytest.fixture(scope="session")
def _worker_app(database_url):
    """The app every test of this worker shares: building one (its OpenAPI document, its
    routes) takes 50-120 ms, which a new app per test paid over a thousand times a run."""
    application = create_app({"DATABASE_URL": database_url, "TESTING": True})
    yield application
    get_db(application).dispose()


@pytest.fixture
def app(_worker_app):
    """An app on the clean test database, as it was built: a test's changes to its
    configuration, its cached rows and its connections go with the test."""
    configuration = dict(_worker_app.config)
    database = get_db(_worker_app)
    clean(_worker_app)
    yield _worker_app
    _worker_app.config.clear()
    _worker_app.config.update(configuration)
    database.dispose()


@pytest.fixture
def make_app():
    """Build extra apps (e.g. on other databases); their connections are closed afterwards."""
    made = []

    def make(**config):
        application = create_app(config)
        made.append(application)
        return application

    yield make
    for application in made:
        get_db(application).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def token(app) -> str:
    """The secret of a fresh API token named ``secretariat``."""
    from friendsgroup.tokens import create_token

    with get_db(app).transaction() as session:
        return create_token(session, "secretariat")


@pytest.fixture
def auth(token) -> dict:
    """Headers that authorise a write."""
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def session(app):
    """A read session on the test database, for asserting what was written."""
    with get_db(app).transaction(write=False) as s:
        yield s
