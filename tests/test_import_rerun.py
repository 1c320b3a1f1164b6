"""Import files that can be run again: "already recorded", --skip-existing, --by, provisions."""

from sqlalchemy import select

from friendsgroup.models import Event
from tests import test_import
from tests.support import snapshot
from tests.test_import import row, run, write_csv

# The fixtures of the import tests, shared.
friends = test_import.friends
instrument = test_import.instrument


def commitment(participant, on, provisions=""):
    return row(participant, on, "commitment", group="", instrument="code", provisions=provisions)


def test_a_file_run_again_is_already_recorded(runner, app, friends, tmp_path, session):
    path = write_csv(tmp_path / "a.csv", [row("FR", "2024-06-01"), row("DE", "2024-07-01")])
    assert run(runner, path).exit_code == 0
    first = session.scalars(select(Event).order_by(Event.id)).all()
    before = snapshot(app)
    again = run(runner, path)
    assert again.exit_code == 1
    assert f"line 2: event: already recorded (event {first[0].id})" in again.stderr
    assert f"line 3: event: already recorded (event {first[1].id})" in again.stderr
    assert "is a member" not in again.stderr
    assert snapshot(app) == before

    more = write_csv(
        tmp_path / "b.csv",
        [row("FR", "2024-06-01"), row("DE", "2024-07-01"), row("IT", "2024-08-01")],
    )
    result = run(runner, more, "--skip-existing", "--by", "curator-ana")
    assert result.exit_code == 0, result.output
    assert f"line 2: event: already recorded (event {first[0].id}), skipped" in result.stderr
    assert "recorded 1 events" in result.stdout
    assert "2 events already recorded, skipped" in result.stdout
    session.rollback()
    newest = session.scalars(select(Event).order_by(Event.id.desc())).first()
    assert (newest.participant.code, newest.recorded_by) == ("ITA", "curator-ana")
    assert {e.recorded_by for e in first} == {"import"}


def test_a_commitments_only_file_run_twice_records_nothing_the_second_time(
    runner,
    app,
    instrument,
    tmp_path,
):
    path = write_csv(
        tmp_path / "c.csv",
        [commitment("FR", "2024-01-10", "1 2 3"), commitment("DE", "2024-02-10")],
    )
    assert run(runner, path).exit_code == 0
    before = snapshot(app)
    again = run(runner, path, "--skip-existing")
    assert again.exit_code == 0, again.output
    assert "recorded 0 events" in again.stdout
    assert snapshot(app) == before
    # Provisions in another order are the same commitment.
    reordered = write_csv(tmp_path / "d.csv", [commitment("FR", "2024-01-10", "3 1 2")])
    assert "already recorded" in run(runner, reordered).stderr


def test_a_bad_provisions_cell_says_how_to_write_it(runner, instrument, tmp_path):
    path = write_csv(tmp_path / "e.csv", [commitment("FR", "2024-01-10", "1,2")])
    result = run(runner, path)
    assert result.exit_code == 1
    assert (
        "line 2: provisions: '1,2' is not a provision number: give numbers separated by spaces"
        in result.stderr
    )


def test_the_help_documents_the_columns(runner):
    text = runner.invoke(args=["import", "--help"]).stdout
    for words in ("source_reliability", "separated by spaces", "Several sources", "--by"):
        assert words in text
