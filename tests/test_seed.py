"""``friendsgroup seed``: the HAIP reference data, loaded through the rules, idempotent."""

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from friendsgroup.models import Announcement, Event, Participant, Source
from tests.support import snapshot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"
# Named in launch coverage, or derived from two official texts read together (§9).
LAUNCH_MEMBERS = {"ARE", "CAN", "ESP", "GBR", "IND", "JPN", "KOR", "USA"} | {
    "AUS",
    "DEU",
    "EU",
    "FRA",
    "ITA",
    "SGP",
}


def seed(runner, path: Path = SEEDS):
    return runner.invoke(args=["seed", "--path", str(path)])


def members(runner, as_of: str) -> dict:
    result = runner.invoke(
        args=["report", "members", "haip-friends-group", "--as-of", as_of, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def seeded(runner):
    result = seed(runner)
    assert result.exit_code == 0, result.output
    return result


def test_seed_reports_what_it_created(seeded):
    assert seeded.stdout.splitlines() == [
        "groups: 2 created, 0 skipped",
        "instruments: 3 created, 0 skipped",
        "participants: 14 created, 0 skipped",
        "events: 87 new, 0 unchanged, 0 corrected, 0 left alone, 0 conflicts",
        "announcements: 12 new, 0 unchanged, 0 corrected, 0 left alone, 0 conflicts",
        "countries: 65 registered from their ISO codes",
    ]


def test_launch_members_beside_the_announced_49(seeded, runner):
    report = members(runner, "2024-05-02")
    assert {m["code"] for m in report["members"]} == LAUNCH_MEMBERS
    assert report["count"] == 14
    assert report["possibly_members"] == 45
    assert report["announced"]["count"] == 49
    assert report["announced"]["difference"] == -35
    assert report["announced"]["source"]["reliability"] == "official"

    table = runner.invoke(args=["report", "members", "haip-friends-group", "--as-of", "2024-05-02"])
    assert "Total: 14 members (+45 possibly members" in table.stdout
    assert "Announced: 49 as of 2024-05-02 (official); difference -35" in table.stdout


def test_every_member_of_the_latest_list_counts_on_its_date(seeded, runner):
    report = members(runner, "2026-05-14")
    assert report["count"] == 66
    assert report["by_kind"] == {"country": 65, "region": 1}
    assert report["announced"]["difference"] == 0


def test_seeding_twice_changes_nothing(seeded, runner, app):
    before = snapshot(app)
    again = seed(runner)
    assert again.exit_code == 0, again.output
    assert again.stdout.splitlines() == [
        "groups: 0 created, 2 skipped",
        "instruments: 0 created, 3 skipped",
        "participants: 0 created, 14 skipped",
        "events: 0 new, 87 unchanged, 0 corrected, 0 left alone, 0 conflicts",
        "announcements: 0 new, 12 unchanged, 0 corrected, 0 left alone, 0 conflicts",
        "countries: 0 registered from their ISO codes",
    ]
    assert snapshot(app) == before


def test_every_seeded_fact_has_a_tagged_source_and_says_who_recorded_it(seeded, session):
    events = session.scalars(select(Event)).all()
    assert len(events) == 87
    for event in events:
        assert event.sources, f"event {event.id} has no source"
        assert all(s.reliability in ("official", "reported", "unverified") for s in event.sources)
        assert event.recorded_by == "seed"
    assert {e.recorded_at for e in events} == {events[0].recorded_at}
    announcements = session.scalars(select(Announcement)).all()
    assert {a.recorded_by for a in announcements} == {"seed"}
    assert all(len(a.sources) == 1 for a in announcements)


def test_consecutive_rows_are_one_event_with_several_sources(seeded, session):
    japan = session.scalars(select(Event).join(Participant).where(Participant.code == "JPN")).one()
    assert len(japan.sources) == 5
    assert [s.position for s in japan.sources] == [0, 1, 2, 3, 4]
    assert session.scalar(select(func.count()).select_from(Source)) == 114 + 12


def test_the_reporting_framework_has_commitments_and_reports(seeded, client):
    response = client.get(
        "/api/v1/instruments/haip-reporting-framework/participants?as_of=2025-12-31"
    )
    assert response.status_code == 200
    assert response.json["count"] == 12
    assert response.json["reported"] == 8


def test_a_seed_file_against_the_rules_writes_nothing(runner, app, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    with (seeds / "events.csv").open("a", encoding="utf-8") as handle:
        handle.write(
            "fg-BRA-withdrawal,haip-friends-group,,withdrawal,BRA,2025-01-01,,,,"
            "https://example.org/brazil,Brazil leaves,,reported\n"
        )
    before = snapshot(app)
    result = seed(runner, seeds)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: events.csv line 116: effective_on: BRA is not a member of haip-friends-group"
        " on 2025-01-01; nothing was written"
    ]
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("groups.json", "{}", "groups.json: must be a JSON list of objects"),
        (
            "participants.csv",
            "code,name,kind,note\nKEN,Kenya,country,\n",
            "participants.csv line 2: kind: countries need no registration:"
            " use their ISO 3166-1 code in an event",
        ),
        (
            "announcements.csv",
            "key,group,as_of,count,source_url,source_title,source_published_on,source_reliability,note\n"
            "fg-x,haip-friends-group,2024-05-02,many,https://example.org/a,,,official,\n",
            "announcements.csv line 2 (key fg-x): count: Not a valid integer.",
        ),
        (
            "announcements.csv",
            "key,group,as_of,count,source_url,source_title,source_published_on,source_reliability,note\n"
            "fg-x,haip-friends-group,2020-01-01,49,https://example.org/a,,,official,\n",
            "announcements.csv line 2 (key fg-x): as_of: is before haip-friends-group's"
            " established_on (2024-05-02)",
        ),
    ],
)
def test_a_bad_seed_file_is_named_with_its_line(runner, app, tmp_path, name, text, reason):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    (seeds / name).write_text(text, encoding="utf-8")
    before = snapshot(app)
    result = seed(runner, seeds)
    assert result.exit_code == 1
    assert result.stderr == f"error: {reason}; nothing was written\n"
    assert snapshot(app) == before


def test_the_readme_table_is_what_the_api_says(seeded, client):
    readme = (SEEDS.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What the data says", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| 20")]
    assert len(rows) >= 6
    for line in rows:
        as_of, counted, possibly, announced, difference = (c.strip() for c in line.split("|")[1:6])
        report = client.get(
            f"/api/v1/groups/haip-friends-group/members?as_of={as_of.split()[0]}"
        ).json
        count, reliability = announced.split()[0], announced.split("(")[1].split(")")[0]
        assert (int(counted), int(possibly)) == (report["count"], report["possibly_members"])
        assert (int(count), reliability) == (
            report["announced"]["count"],
            report["announced"]["source"]["reliability"],
        )
        assert int(difference.replace("\u2212", "-")) == report["announced"]["difference"]


def test_derived_launch_members_keep_their_note_and_every_tag(seeded, session):
    for code in ("AUS", "EU", "FRA", "DEU", "ITA", "SGP", "CAN", "KOR", "GBR", "USA"):
        event = session.scalars(
            select(Event).join(Participant).where(Participant.code == code)
        ).one()
        assert event.note.startswith("Derived from two official texts"), code
        assert event.effective_on.isoformat() == "2024-05-02" and event.earliest_on is None
        assert [s.reliability for s in event.sources][:2] == ["official", "official"]
        assert {s.reliability for s in event.sources[2:]} <= {"reported", "unverified"}
    serbia = session.scalars(select(Event).join(Participant).where(Participant.code == "SRB")).one()
    assert (serbia.earliest_on.isoformat(), serbia.effective_on.isoformat()) == (
        "2024-05-02",
        "2025-02-27",
    )


def test_the_shipped_seeds_are_loaded_wherever_the_command_runs(runner, tmp_path, monkeypatch):
    """Not the working directory's seeds/: an empty folder has none, and the command works."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0, result.output
    assert "events: " in result.output and " 0 new" not in result.output
    assert LAUNCH_MEMBERS <= {m["code"] for m in members(runner, "2025-06-30")["members"]}
