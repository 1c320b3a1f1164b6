"""One gate: every check in ``history`` is applied by every door (API, import, seed)."""

import inspect
import shutil
from pathlib import Path

import pytest

from friendsgroup import history
from friendsgroup.errors import validation_problem
from tests.support import FRIENDS, INSTRUMENT_BODY, SOURCE, create_group, snapshot

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def test_every_check_in_history_is_listed_for_the_parity_test():
    checks = {name for name, _ in inspect.getmembers(history, inspect.isfunction)}
    checks = {name for name in checks if name.startswith("check_") and name != "check_body"}
    assert checks == set(history.EVENT_CHECKS) | set(history.ANNOUNCEMENT_CHECKS)


def _refusing(monkeypatch, name: str) -> str:
    """Make ``history.<name>`` refuse everything; the marker its refusal carries."""
    marker = f"refused by {name}"

    def refuse(*_args, **_kwargs):
        raise validation_problem("body", marker)

    monkeypatch.setattr(history, name, refuse)
    return marker


@pytest.fixture
def registry(client, auth):
    """A group and an instrument with provisions, and a member committed to it."""
    create_group(client, auth)
    response = client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth)
    assert response.status_code == 201, response.json
    return FRIENDS["slug"], INSTRUMENT_BODY["slug"]


# A line that passes every check (a commitment with provisions and a source, so that each
# check has something to look at).
LINE = (
    "group,instrument,type,participant,effective_on,earliest_on,provisions,note,"
    "source_url,source_title,source_published_on,source_reliability\n"
    ",code,commitment,KEN,2025-06-01,2025-05-01,1 2,,https://example.org/a,A,,official\n"
)


@pytest.mark.parametrize("name", history.EVENT_CHECKS)
def test_the_api_applies_each_event_check(monkeypatch, client, auth, registry, name):
    marker = _refusing(monkeypatch, name)
    body = {
        "participant": "KEN",
        "effective_on": "2025-06-01",
        "earliest_on": "2025-05-01",
        "provisions": [1, 2],
        "sources": [SOURCE],
    }
    response = client.post("/api/v1/instruments/code/commitments", json=body, headers=auth)
    assert response.status_code == 422
    assert marker in response.get_data(as_text=True)


@pytest.mark.parametrize("name", history.EVENT_CHECKS)
def test_the_import_applies_each_event_check(monkeypatch, app, runner, registry, tmp_path, name):
    path = tmp_path / "events.csv"
    path.write_text(LINE, encoding="utf-8")
    marker = _refusing(monkeypatch, name)
    before = snapshot(app)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    assert f"line 2: body: {marker}" in result.stderr
    assert snapshot(app) == before


@pytest.mark.parametrize("name", history.EVENT_CHECKS)
def test_the_seeder_applies_each_event_check(monkeypatch, app, runner, tmp_path, name):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    marker = _refusing(monkeypatch, name)
    before = snapshot(app)
    result = runner.invoke(args=["seed", "--path", str(seeds)])
    assert result.exit_code == 1
    assert marker in result.stderr
    assert snapshot(app) == before


@pytest.mark.parametrize("name", history.ANNOUNCEMENT_CHECKS)
def test_the_api_and_the_seeder_apply_each_announcement_check(
    monkeypatch, app, client, auth, runner, tmp_path, name
):
    create_group(client, auth)
    marker = _refusing(monkeypatch, name)
    body = {"as_of": "2025-01-01", "count": 3, "source": SOURCE}
    response = client.post("/api/v1/groups/friends/announcements", json=body, headers=auth)
    assert response.status_code == 422
    assert marker in response.get_data(as_text=True)
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    (seeds / "events.csv").write_text(
        (SEEDS / "events.csv").read_text(encoding="utf-8").splitlines()[0] + "\n", "utf-8"
    )
    before = snapshot(app)
    result = runner.invoke(args=["seed", "--path", str(seeds)])
    assert result.exit_code == 1
    assert f"announcements.csv line 2 (key fg-2024-05-02-kantei): body: {marker}" in result.stderr
    assert snapshot(app) == before
