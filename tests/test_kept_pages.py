"""The group page "as known now" is rendered once while its group is unchanged, and never
served stale: after a write, a rename, or for another address, language or host."""

import pytest

from friendsgroup.web import views
from tests.support import accede, count_calls, create_group

PAGE = "/groups/friends"


@pytest.fixture
def rendered(monkeypatch) -> list[int]:
    """Counts the group pages actually rendered (a kept one is not)."""
    return count_calls(monkeypatch, views, "_group_page")


@pytest.fixture
def friends(client, auth) -> None:
    create_group(client, auth)
    assert accede(client, auth, "JPN", "2024-05-02").status_code == 201


def html(response) -> str:
    assert response.status_code == 200, response.data
    return response.get_data(as_text=True)


def twice(client, path: str = PAGE, **options) -> str:
    """The page, asked for twice (so that it is kept from then on), the same both times."""
    first = html(client.get(path, **options))
    assert html(client.get(path, **options)) == first
    return first


def test_an_unchanged_page_is_kept_from_its_second_asking_on(client, friends, rendered):
    first = client.get(PAGE)
    assert len(rendered) == 1
    second = client.get(PAGE)
    third = client.get(PAGE)
    assert html(first) == html(second) == html(third) and len(rendered) == 2
    assert first.headers["ETag"] == third.headers["ETag"]
    assert client.get(PAGE, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert len(rendered) == 2


def test_addresses_languages_and_hosts_are_kept_apart(client, friends, rendered):
    for _ in range(2):  # kept from the second asking, and then each is kept apart
        english = twice(client)
        japanese = twice(client, f"{PAGE}?lang=ja")
        assert english != japanese and "日本" in japanese
        twice(client, f"{PAGE}?as_of=2024-05-01")
        elsewhere = twice(client, base_url="http://registry.example.org")
        assert "registry.example.org" in elsewhere and "registry.example.org" not in english
        assert len(rendered) == 8


def test_an_explicit_known_at_is_rendered_every_time(client, friends, rendered):
    for _ in range(2):
        html(client.get(f"{PAGE}?known_at=2030-01-01T00:00:00Z"))
    assert len(rendered) == 2


def test_an_accession_and_a_rename_are_seen_next(client, auth, friends, rendered):
    assert "France" not in twice(client)
    assert accede(client, auth, "FRA", "2024-06-01").status_code == 201
    assert "France" in twice(client)
    renamed = client.patch("/api/v1/participants/FRA", json={"name": "Frankreich"}, headers=auth)
    assert renamed.status_code == 200, renamed.data
    assert "Frankreich" in twice(client)
    assert len(rendered) == 4  # twice at first, then once after each write
