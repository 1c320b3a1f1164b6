"""Seeds as a curated dataset: re-seeding never undoes a curator's retraction or correction."""

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from friendsgroup.models import Event, Participant
from tests.support import console_script, row_counts, snapshot

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
API = "/api/v1"
GROUP = "haip-friends-group"


def seed(runner, path: Path = SEEDS, *extra: str):
    result = runner.invoke(args=["seed", "--path", str(path), *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def seeded_event(session, code: str) -> Event:
    """The visible Friends Group accession of ``code``."""
    return session.scalars(
        select(Event)
        .join(Participant)
        .where(Participant.code == code, Event.group_id.is_not(None), Event.retracted_at.is_(None))
    ).one()


def line_of(key: str) -> int:
    """The line of the first row of ``key`` in seeds/events.csv (the header is line 1)."""
    lines = (SEEDS / "events.csv").read_text(encoding="utf-8").splitlines()
    return next(n for n, text in enumerate(lines, 1) if text.startswith(f"{key},"))


def edit_row(path: Path, key: str, **cells: str) -> None:
    """Change cells of every row of ``key`` in a seed CSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["key"] == key:
            row.update(cells)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


@pytest.fixture
def curated(runner, client, auth, app):
    """The seeded registry after a curator retracted Thailand and dated Kenya exactly."""
    seed(runner)
    with app.app_context():
        from friendsgroup.db import get_db

        with get_db(app).transaction(write=False) as session:
            thailand = seeded_event(session, "THA").id
            kenya = seeded_event(session, "KEN").id
    retracted = client.post(
        f"{API}/events/{thailand}/retraction", json={"reason": "no source names it"}, headers=auth
    )
    assert retracted.status_code in (200, 201), retracted.json
    corrected = client.post(
        f"{API}/events/{kenya}/correction",
        json={
            "reason": "ministry press release dates it",
            "effective_on": "2025-06-01",
            "earliest_on": None,
            "note": "Joined on 2025-06-01 (ministry press release).",
        },
        headers=auth,
    )
    assert corrected.status_code in (200, 201), corrected.json
    return {"THA": thailand, "KEN": kenya, "KEN-now": corrected.json["id"]}


def test_reseeding_leaves_the_curators_work_alone(curated, runner, app, session):
    before = snapshot(app)
    for _ in range(2):
        out = seed(runner)
        assert "events: 0 new, 85 unchanged, 0 corrected, 2 left alone, 0 conflicts" in out
        assert f"event {curated['THA']} (accession of THA to {GROUP}) was retracted" in out
        assert f"event {curated['KEN']} (accession of KEN to {GROUP}) was corrected by " in out
        assert "secretariat at" in out and f"(now event {curated['KEN-now']})" in out
        assert f"events.csv line {line_of('fg-THA')} (key fg-THA) left alone" in out
        assert "announcements: 0 new" in out
    assert snapshot(app) == before


def test_the_serve_seed_step_leaves_the_curators_work_alone(curated, app, database_url):
    before = snapshot(app)
    # The seed step of `make serve`, as the Makefile runs it: from the repository root.
    result = subprocess.run(
        [console_script("friendsgroup"), "seed"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "2 left alone, 0 conflicts" in result.stdout
    assert snapshot(app) == before


def test_dry_run_prints_the_plan_and_writes_nothing(curated, runner, app, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    edit_row(seeds / "events.csv", "fg-AUT", note="Dated by a new source.")
    before = snapshot(app)
    out = seed(runner, seeds, "--dry-run")
    assert "events: 0 new, 84 unchanged, 1 corrected, 2 left alone, 0 conflicts" in out
    assert "  corrected: event " in out and "(accession of AUT to haip-friends-group)" in out
    assert out.rstrip().endswith("dry run: nothing was written")
    assert snapshot(app) == before


def test_a_changed_row_corrects_the_seeds_own_event(curated, runner, client, tmp_path, session):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    edit_row(seeds / "events.csv", "fg-AUT", effective_on="2025-01-15", earliest_on="")
    old = seeded_event(session, "AUT")
    counts = row_counts(session)
    session.rollback()
    out = seed(runner, seeds)
    assert "events: 0 new, 84 unchanged, 1 corrected, 2 left alone, 0 conflicts" in out
    new = seeded_event(session, "AUT")
    assert (new.supersedes_id, new.effective_on.isoformat(), new.earliest_on) == (
        old.id,
        "2025-01-15",
        None,
    )
    assert new.origin == old.origin == "seeds/events.csv#fg-AUT"
    assert new.recorded_by == "seed"
    assert session.get(Event, old.id).retraction_reason.startswith(
        f"seed file changed: events.csv line {line_of('fg-AUT')} (key fg-AUT)"
    )
    assert row_counts(session)["events"] == counts["events"] + 1
    # What the registry said before the correction is still there, at an earlier known_at.
    url = f"{API}/groups/{GROUP}/members"
    now = client.get(url, query_string={"as_of": "2025-02-01"}).json
    known_at = old.recorded_at.isoformat()
    then = client.get(url, query_string={"as_of": "2025-02-01", "known_at": known_at}).json
    assert "AUT" in {m["code"] for m in now["members"]}
    assert "AUT" not in {m["code"] for m in then["members"]}
    # Applied once: the next run finds the row unchanged.
    assert "0 corrected" in seed(runner, seeds)


def test_a_row_changed_beside_a_curators_correction_is_a_conflict(curated, runner, tmp_path, app):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    edit_row(seeds / "events.csv", "fg-KEN", effective_on="2025-03-01", earliest_on="2024-05-02")
    before = snapshot(app)
    out = seed(runner, seeds)
    assert "0 corrected, 1 left alone, 1 conflicts" in out
    assert (
        f"  conflict: event {curated['KEN']} (accession of KEN to {GROUP}) was corrected by" in out
    )
    where = f"events.csv line {line_of('fg-KEN')} (key fg-KEN)"
    assert f"{where} changed since the seed recorded it: not applied" in out
    assert snapshot(app) == before


def test_a_seed_file_brought_into_line_with_the_curator_is_unchanged(curated, runner, tmp_path):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    edit_row(
        seeds / "events.csv",
        "fg-KEN",
        effective_on="2025-06-01",
        earliest_on="",
        note="Joined on 2025-06-01 (ministry press release).",
    )
    out = seed(runner, seeds)
    assert "events: 0 new, 86 unchanged, 0 corrected, 1 left alone, 0 conflicts" in out


def test_a_database_seeded_before_rows_had_keys_is_adopted(runner, app, session):
    seed(runner)
    with app.app_context():
        from friendsgroup.db import get_db

        with get_db(app).transaction() as writer:
            for event in writer.scalars(select(Event)):
                event.origin = None
    before = row_counts(session)
    session.rollback()
    out = seed(runner)
    assert "events: 0 new, 87 unchanged" in out
    assert "announcements: 0 new, 12 unchanged" in out
    assert row_counts(session) == before
    assert session.scalar(select(Event).where(Event.origin.is_(None))) is None
