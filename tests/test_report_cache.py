"""The members report is kept per process, and never served stale after any write."""

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import update

from friendsgroup.api import groups as group_views
from friendsgroup.api.report_cache import REPORT_CACHE
from friendsgroup.db import get_db
from friendsgroup.models import Event
from friendsgroup.reports import kept
from friendsgroup.reports.kept import StampedCache
from friendsgroup.reports.stamps import Stamp, group_stamp
from friendsgroup.timeutil import utcnow
from tests.support import SOURCE, accede, count_calls, create_group

MEMBERS = "/api/v1/groups/friends/members"


@pytest.fixture
def computed(monkeypatch) -> list[int]:
    """Counts the members reports actually computed (a kept one is not)."""
    return count_calls(monkeypatch, group_views, "members_report")


@pytest.fixture
def friends(client, auth) -> None:
    create_group(client, auth)
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201


def codes(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [member["code"] for member in response.json["members"]]


def kept_codes(client, path: str = MEMBERS) -> list[str]:
    """The members, asked for twice so that the answer is kept before what the test does."""
    assert codes(client.get(path)) == (answer := codes(client.get(path)))
    return answer


def test_an_unchanged_report_is_not_computed_again(client, friends, computed):
    client.get(MEMBERS)  # asked once: computed, not kept
    first = client.get(MEMBERS)  # asked again: computed and kept
    second = client.get(MEMBERS)
    assert codes(first) == codes(second) == ["JPN"]
    assert len(computed) == 2
    # The same bytes but for known_at, which is now on every answer.
    assert second.json["known_at"] > first.json["known_at"]
    assert {**first.json, "known_at": None} == {**second.json, "known_at": None}
    assert first.headers["ETag"] == second.headers["ETag"]
    assert second.headers["Cache-Control"] == "no-cache"
    # A kept report answers its tag with 304 too.
    again = client.get(MEMBERS, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert len(computed) == 2


def test_a_date_asked_for_once_is_not_kept_and_reads_no_stamp(app, client, friends, monkeypatch):
    stamps = count_calls(monkeypatch, kept, "group_stamp")
    for day in ("2024-06-01", "2024-06-02", "2024-06-03"):
        assert codes(client.get(f"{MEMBERS}?as_of={day}")) == ["JPN"]
    assert not stamps and not app.extensions[REPORT_CACHE].entries
    assert codes(client.get(f"{MEMBERS}?as_of=2024-06-02")) == ["JPN"]
    assert len(stamps) == 1 and list(app.extensions[REPORT_CACHE].entries) == [
        ("members", 1, date(2024, 6, 2))
    ]


def test_each_date_is_kept_apart_and_downloads_are_computed(client, friends, computed):
    for _ in range(2):
        on_date = client.get(f"{MEMBERS}?as_of=2024-06-01")
        before = client.get(f"{MEMBERS}?as_of=2024-05-01")
    assert codes(on_date) == ["JPN"] and codes(before) == []
    assert len(computed) == 4
    assert codes(client.get(f"{MEMBERS}?as_of=2024-06-01")) == ["JPN"]
    assert codes(client.get(f"{MEMBERS}?as_of=2024-05-01")) == []
    for _ in range(2):
        download = client.get(f"{MEMBERS}?as_of=2024-06-01&format=csv")
        assert download.mimetype == "text/csv" and "JPN" in download.get_data(as_text=True)
    assert len(computed) == 6


def test_an_explicit_known_at_is_computed_every_time(client, friends, computed):
    at = (utcnow() + timedelta(seconds=1)).isoformat()
    for _ in range(2):
        assert codes(client.get(MEMBERS, query_string={"known_at": at})) == ["JPN"]
    assert len(computed) == 2


def test_an_accession_through_the_api_is_seen_next(client, auth, friends, computed):
    assert kept_codes(client) == ["JPN"]
    assert accede(client, auth, "FRA", "2024-06-01").status_code == 201
    assert codes(client.get(MEMBERS)) == ["FRA", "JPN"]


def test_a_retraction_and_a_correction_are_seen_next(client, auth, friends):
    france = accede(client, auth, "FRA", "2024-06-01").json
    assert kept_codes(client) == ["FRA", "JPN"]
    retracted = client.post(
        f"/api/v1/events/{france['id']}/retraction", json={"reason": "never"}, headers=auth
    )
    assert retracted.status_code == 200, retracted.json
    assert kept_codes(client) == ["JPN"]
    japan = client.get("/api/v1/groups/friends/events").json["items"][0]
    corrected = client.post(
        f"/api/v1/events/{japan['id']}/correction",
        json={"effective_on": "2024-07-01", "reason": "later"},
        headers=auth,
    )
    assert corrected.status_code == 201, corrected.json
    assert client.get(MEMBERS).json["members"][0]["member_since"] == "2024-07-01"


def test_an_announcement_is_seen_next(client, auth, friends):
    assert kept_codes(client) == ["JPN"]
    assert client.get(MEMBERS).json["announced"] is None
    body = {"as_of": "2024-05-02", "count": 49, "source": SOURCE}
    posted = client.post("/api/v1/groups/friends/announcements", json=body, headers=auth)
    assert posted.status_code == 201
    assert client.get(MEMBERS).json["announced"]["count"] == 49


def test_an_import_is_seen_next(client, runner, friends, tmp_path):
    assert kept_codes(client) == ["JPN"]
    lines = [
        {"type": "accession", "group": "friends", "participant": code, "effective_on": on}
        for code, on in (("FRA", "2024-06-01"), ("KEN", "2024-06-02"))
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert codes(client.get(MEMBERS)) == ["FRA", "JPN", "KEN"]


def test_a_rename_is_seen_next(client, auth, friends, computed):
    # A report names its members: renaming one moves the stamp of every group.
    def names() -> list[str]:
        return [member["name"] for member in client.get(MEMBERS).json["members"]]

    assert names() == names() == ["Japan"]
    renamed = client.patch("/api/v1/participants/JPN", json={"name": "Nippon"}, headers=auth)
    assert renamed.status_code == 200, renamed.data
    assert names() == names() == ["Nippon"]
    assert len(computed) == 3


def test_a_write_through_another_worker_is_seen_next(app, client, auth, friends, make_app):
    # Another app on the same database is another worker (or host): it keeps its own cache.
    other = make_app(DATABASE_URL=app.config["DATABASE_URL"]).test_client()
    assert kept_codes(client) == ["JPN"]
    assert kept_codes(other) == ["JPN"]
    assert accede(other, auth, "FRA", "2024-06-01").status_code == 201
    assert codes(client.get(MEMBERS)) == ["FRA", "JPN"]


def test_the_stamp_moves_with_every_kind_of_write(app, client, auth, friends):
    def stamp() -> Stamp:
        with get_db(app).transaction(write=False) as session:
            return group_stamp(session, 1)

    before = stamp()
    france = accede(client, auth, "FRA", "2024-06-01").json
    added = stamp()
    assert added.events == before.events + 1 and added.last_recorded_at > before.last_recorded_at
    client.post(f"/api/v1/events/{france['id']}/retraction", json={"reason": "x"}, headers=auth)
    retracted = stamp()
    assert retracted.retracted == 1 and retracted.last_retracted_at is not None
    body = {"as_of": "2024-05-02", "count": 49, "source": SOURCE}
    client.post("/api/v1/groups/friends/announcements", json=body, headers=auth)
    assert stamp().announcements == 1
    client.patch("/api/v1/participants/FRA", json={"name": "France (renamed)"}, headers=auth)
    assert stamp().renames == 1 and stamp().last_renamed_at is not None
    assert stamp().settled_by(utcnow())


def test_a_report_made_before_a_write_stamped_in_the_future_is_not_kept(app, client, friends):
    # A writer whose clock runs ahead: a report made now cannot show that write yet, and
    # must not be kept for when it would.
    with get_db(app).transaction() as session:
        session.execute(update(Event).values(recorded_at=utcnow() + timedelta(hours=1)))
    for _ in range(3):  # asked for often enough to be kept, were it settled
        assert codes(client.get(MEMBERS)) == []
    cache = app.extensions[REPORT_CACHE]
    assert isinstance(cache, StampedCache) and not cache.entries


def test_the_cache_keeps_the_most_recently_used():
    cache = StampedCache(size=2)
    stamp = Stamp(1, 0, None, None, 0, None, 0, None)
    for key in "abc":
        cache.put(key, stamp, key)
    assert cache.get("a", stamp) is None and cache.get("c", stamp) == "c"
    assert cache.get("b", Stamp(2, 0, None, None, 0, None, 0, None)) is None


def test_the_cache_admits_a_key_on_its_second_asking_and_counts_few_keys():
    cache = StampedCache(size=2)
    assert [cache.admits("a"), cache.admits("a"), cache.admits("a")] == [False, True, True]
    for key in "bcd":
        assert not cache.admits(key)
    assert list(cache.asked) == ["c", "d"]  # the oldest askings are forgotten
    assert not cache.admits("b")
