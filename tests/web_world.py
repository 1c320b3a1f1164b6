"""A small registry for the page and browser tests: members with sources, an uncertain window,
a correction, a retraction, announcements and an instrument."""

from dataclasses import dataclass

from tests.support import INSTRUMENT_BODY, accede, create_group

OFFICIAL = {
    "url": "https://example.org/official",
    "title": "Official list",
    "reliability": "official",
}
REPORTED = {
    "url": "https://example.org/news",
    "title": "News report",
    "publisher": "Daily",
    "published_on": "2024-05-03",
    "reliability": "reported",
}
AS_OF = "2025-03-01"


@dataclass
class WebWorld:
    corrected_id: int
    correction_id: int
    retracted_id: int


def make_web_world(client, auth) -> WebWorld:
    """Friends with JPN, FRA (two sources), TUR, the EU, KEN (uncertain), announcements."""
    create_group(client, auth)
    client.post(
        "/api/v1/participants",
        json={"code": "EU", "name": "European Union", "kind": "region"},
        headers=auth,
    )
    created = [
        accede(client, auth, "JPN", "2024-05-02", sources=[OFFICIAL]),
        accede(client, auth, "FRA", "2024-05-02", sources=[REPORTED, OFFICIAL]),
        accede(client, auth, "TUR", "2024-09-01", sources=[REPORTED]),
        accede(client, auth, "EU", "2024-05-02", sources=[OFFICIAL]),
        accede(client, auth, "KEN", "2025-06-01", earliest_on="2024-06-01", sources=[REPORTED]),
        accede(client, auth, "BRA", "2024-07-01", sources=[REPORTED]),
        accede(client, auth, "CAN", "2024-08-01"),
    ]
    for response in created:
        assert response.status_code == 201, response.get_json()
    brazil, canada = created[5].get_json()["id"], created[6].get_json()["id"]
    correction = client.post(
        f"/api/v1/events/{brazil}/correction",
        json={"reason": "the official date", "effective_on": "2024-07-15"},
        headers=auth,
    )
    assert correction.status_code == 201, correction.get_json()
    retraction = client.post(
        f"/api/v1/events/{canada}/retraction", json={"reason": "no source"}, headers=auth
    )
    assert retraction.status_code == 200, retraction.get_json()
    for as_of, count, source in [("2024-05-02", 4, OFFICIAL), ("2025-02-28", 7, REPORTED)]:
        response = client.post(
            "/api/v1/groups/friends/announcements",
            json={"as_of": as_of, "count": count, "source": source},
            headers=auth,
        )
        assert response.status_code == 201, response.get_json()
    assert client.post("/api/v1/instruments", json=INSTRUMENT_BODY, headers=auth).status_code == 201
    commitment = client.post(
        "/api/v1/instruments/code/commitments",
        json={"participant": "JPN", "effective_on": "2024-01-01", "provisions": [1, 2]},
        headers=auth,
    )
    assert commitment.status_code == 201, commitment.get_json()
    return WebWorld(brazil, correction.get_json()["id"], canada)
