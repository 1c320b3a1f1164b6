"""Names people use: ISO's, former ones and added ones, found case- and accent-insensitively."""

import pytest

from tests.support import accede, assert_problem, create_group, row_counts

COUNTRIES = ["TUR", "VNM", "KOR", "PRK", "GBR", "UKR", "CIV", "DEU"]


@pytest.fixture
def registered(client, auth):
    create_group(client, auth)
    for code in COUNTRIES:
        assert accede(client, auth, code, "2024-06-01").status_code == 201


def found(client, q):
    response = client.get("/api/v1/participants", query_string={"q": q})
    assert response.status_code == 200
    return [p["code"] for p in response.json["items"]]


@pytest.mark.parametrize(
    ("q", "codes"),
    [
        ("turkey", ["TUR"]),
        ("Türkiye", ["TUR"]),
        ("TURKIYE", ["TUR"]),
        ("viet nam", ["VNM"]),
        ("vietnam", ["VNM"]),
        ("south korea", ["KOR"]),
        ("korea", ["KOR", "PRK"]),
        ("united kingdom", ["GBR"]),
        ("great britain", ["GBR"]),
        ("cote d'ivoire", ["CIV"]),
        ("Ivory Coast", ["CIV"]),
        ("deu", ["DEU"]),
        ("germ", ["DEU"]),
        ("nowhere", []),
    ],
)
def test_q_finds_the_names_people_use(client, registered, q, codes):
    assert found(client, q) == codes


def test_uk_finds_the_united_kingdom_first(client, registered):
    assert found(client, "uk")[0] == "GBR"
    assert found(client, "UK") == found(client, "uk")


def test_a_participant_lists_its_other_names(client, registered):
    turkey = client.get("/api/v1/participants/TUR").json
    assert turkey["name"] == "Türkiye"
    assert {"name": "Turkey", "kind": "former"} in turkey["aliases"]
    assert {"name": "Republic of Türkiye", "kind": "official"} in turkey["aliases"]


def test_patch_renames_and_keeps_the_previous_name(client, auth, session, registered):
    renamed = client.patch(
        "/api/v1/participants/VNM",
        json={"name": "Vietnam", "aliases": ["Việt Nam Republic"]},
        headers=auth,
    )
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["name"] == "Vietnam"
    assert {"name": "Viet Nam", "kind": "former"} in renamed.json["aliases"]
    assert {"name": "Việt Nam Republic", "kind": "added"} in renamed.json["aliases"]
    assert found(client, "viet nam republic") == ["VNM"]
    assert found(client, "viet nam") == ["VNM"]
    before = row_counts(session)
    assert_problem(client.patch("/api/v1/participants/VNM", json={}, headers=auth), 422)
    refused = client.patch("/api/v1/participants/VNM", json={"name": ""}, headers=auth)
    assert_problem(refused, 422, field="name")
    missing = client.patch("/api/v1/participants/XXXX", json={"name": "x"}, headers=auth)
    assert_problem(missing, 404)
    assert client.patch("/api/v1/participants/VNM", json={"name": "x"}).status_code == 401
    assert row_counts(session) == before
