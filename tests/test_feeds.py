"""Atom feeds: valid RFC 4287, one entry per change, ids that never change, conditional GETs."""

import feedparser

from tests.support import INSTRUMENT_BODY, SOURCE, accede, assert_problem, create_group


def parse(response):
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_the_registry_feed_matches_the_change_log(client, auth):
    create_group(client, auth)
    accede(client, auth, "KEN", "2025-06-01", sources=[SOURCE])
    accede(client, auth, "JPN", "2025-06-01")
    feed = parse(client.get("/feed.atom"))
    log = client.get("/api/v1/changes").get_json()["items"]
    assert [entry.title for entry in feed.entries] == [c["summary"] for c in reversed(log)]
    assert feed.entries[1].title == "Kenya joined the Friends Group on 2025-06-01 — official source"
    assert [entry.id for entry in feed.entries] == [
        f"tag:friendsgroup.invalid,2024:change/{c['id']}" for c in reversed(log)
    ]
    links = {link.rel: link.href for link in feed.entries[0].links}
    assert links["alternate"].endswith("/participants/JPN")
    assert "/api/v1/events/" in links["related"]
    # The same ids on every request, and after more changes.
    accede(client, auth, "FRA", "2025-06-01")
    again = parse(client.get("/feed.atom"))
    assert [e.id for e in again.entries[1:]] == [e.id for e in feed.entries]


def test_scoped_feeds(client, auth):
    create_group(client, auth)
    client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth)
    accede(client, auth, "KEN", "2025-06-01")
    client.post(
        "/api/v1/instruments/code/commitments",
        json={"participant": "JPN", "effective_on": "2024-02-07"},
        headers=auth,
    )
    group = parse(client.get("/groups/friends/feed.atom"))
    assert [e.title for e in group.entries][0].startswith("Kenya joined")
    instrument = parse(client.get("/instruments/code/feed.atom"))
    assert instrument.entries[0].title.startswith("Japan committed to the Code of Conduct")
    participant = parse(client.get("/participants/jp/feed.atom"))
    assert len(participant.entries) == 1
    assert_problem(client.get("/groups/nope/feed.atom"), 404)


def test_etag_and_last_modified_answer_304(client, auth):
    create_group(client, auth)
    first = client.get("/feed.atom")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    again = client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    since = client.get("/feed.atom", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    accede(client, auth, "KEN", "2025-06-01")
    changed = client.get("/feed.atom", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200


def test_an_empty_feed_is_valid(client):
    assert parse(client.get("/feed.atom")).entries == []


def test_pages_link_their_feed(client, auth):
    create_group(client, auth)
    accede(client, auth, "KEN", "2025-06-01")
    home = client.get("/").get_data(as_text=True)
    assert 'rel="alternate" type="application/atom+xml"' in home and 'href="/feed.atom"' in home
    page = client.get("/groups/friends").get_data(as_text=True)
    assert 'href="/groups/friends/feed.atom"' in page
    parse(client.get("/groups/friends/feed.atom"))
