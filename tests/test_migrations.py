"""Migrations and the ``db`` commands: up, down, up again, and ``check`` on both databases."""

from click.testing import CliRunner
from sqlalchemy import inspect

from friendsgroup.cli import main
from friendsgroup.db import make_engine
from friendsgroup.migrate import head_revision


def friendsgroup(url: str, *args: str):
    """Run the console script against ``url``."""
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": url})


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(blank_database_factory):
    url = blank_database_factory()
    assert friendsgroup(url, "db", "upgrade").exit_code == 0
    assert {"events", "participants", "groups", "instruments", "sources"} <= tables(url)
    assert friendsgroup(url, "db", "downgrade", "base").exit_code == 0
    assert tables(url) <= {"alembic_version"}
    result = friendsgroup(url, "db", "upgrade")
    assert result.exit_code == 0
    assert head_revision() in result.output
    assert friendsgroup(url, "db", "check").exit_code == 0


def test_check_is_0_when_migrated_and_1_when_empty(blank_database_factory):
    url = blank_database_factory()
    empty = friendsgroup(url, "db", "check")
    assert empty.exit_code == 1
    assert "friendsgroup db upgrade" in empty.output
    friendsgroup(url, "db", "upgrade")
    migrated = friendsgroup(url, "db", "check")
    assert migrated.exit_code == 0, migrated.output
    assert "models and migrations agree" in migrated.output


def test_current_and_history(database_url):
    current = friendsgroup(database_url, "db", "current")
    assert current.exit_code == 0
    assert current.output.startswith(head_revision())
    history = friendsgroup(database_url, "db", "history")
    assert head_revision() in history.output


def test_serve_refuses_a_database_not_at_head(blank_database_factory):
    result = friendsgroup(blank_database_factory(), "serve", "--port", "1")
    assert result.exit_code == 1
    assert "friendsgroup db upgrade" in result.output


def test_tokens_are_created_listed_and_revoked(database_url, client):
    created = friendsgroup(database_url, "token", "create", "robot")
    assert created.exit_code == 0
    secret = created.stdout.splitlines()[0]
    assert secret.startswith("fg_")
    assert friendsgroup(database_url, "token", "create", "robot").exit_code == 1
    listed = friendsgroup(database_url, "token", "list")
    assert "robot" in listed.output and "active" in listed.output and secret not in listed.output
    assert friendsgroup(database_url, "token", "revoke", "robot").exit_code == 0
    assert "revoked" in friendsgroup(database_url, "token", "list").output
    assert friendsgroup(database_url, "token", "revoke", "robot").exit_code == 1
    body = {"code": "EU", "name": "EU", "kind": "region"}
    refused = client.post(
        "/api/v1/participants", json=body, headers={"Authorization": f"Bearer {secret}"}
    )
    assert refused.status_code == 401


def test_data_survives_upgrades_and_downgrades(blank_database_factory):
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from friendsgroup.migrate import migrations_path

    url = blank_database_factory()
    revisions = [r.revision for r in ScriptDirectory(str(migrations_path())).walk_revisions()]
    first = revisions[-1]
    assert friendsgroup(url, "db", "upgrade", first).exit_code == 0
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO groups (slug, name, established_on, admits_country, admits_region,"
                    " admits_organisation, created_at) VALUES ('g', 'G', '2024-05-02', true, false,"
                    " false, '2024-05-02 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO participants (code, name, kind, created_at)"
                    " VALUES ('KEN', 'Kenya', 'country', '2024-05-02 00:00:00')"
                )
            )
            connection.execute(
                text(
                    "INSERT INTO events (type, group_id, participant_id, effective_on, recorded_at,"
                    " recorded_by) VALUES ('accession', 1, 1, '2024-06-01', '2024-06-01 00:00:00',"
                    " 'test')"
                )
            )
        for step in (("upgrade",), ("downgrade", first), ("upgrade",)):
            assert friendsgroup(url, "db", *step).exit_code == 0
            with engine.connect() as connection:
                assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 1
    finally:
        engine.dispose()
    assert friendsgroup(url, "db", "check").exit_code == 0
