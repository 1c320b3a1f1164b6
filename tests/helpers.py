"""Small helpers shared by the tests."""

from sqlalchemy import func, select

from friendsgroup.models import Base

FRIENDS = {
    "slug": "friends",
    "name": "Friends Group",
    "established_on": "2024-05-02",
    "member_kinds": ["country", "region"],
}
INSTRUMENT = {
    "slug": "code",
    "name": "Code of Conduct",
    "adopted_on": "2023-10-30",
    "provisions": [{"number": n, "title": f"Action {n}"} for n in (1, 2, 3)],
}
SOURCE = {"url": "https://example.org/press/1", "title": "Press release", "reliability": "official"}


def row_counts(session) -> dict[str, int]:
    """Rows in every table, to prove that a refused request wrote nothing."""
    session.expire_all()
    return {
        table.name: session.scalar(select(func.count()).select_from(table))
        for table in Base.metadata.sorted_tables
    }


def create_group(client, auth, **overrides) -> dict:
    """Create a group (the Friends Group by default) and return its JSON."""
    response = client.post("/api/v1/groups", json={**FRIENDS, **overrides}, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def accede(client, auth, participant, on, group="friends", **extra):
    """POST an accession."""
    body = {"participant": participant, "effective_on": on, **extra}
    return client.post(f"/api/v1/groups/{group}/accessions", json=body, headers=auth)


def withdraw(client, auth, participant, on, group="friends", **extra):
    """POST a withdrawal."""
    body = {"participant": participant, "effective_on": on, **extra}
    return client.post(f"/api/v1/groups/{group}/withdrawals", json=body, headers=auth)


def assert_problem(response, status: int, type_: str | None = None, field: str | None = None):
    """The response is problem+json with this status, type and (optionally) field.

    ``field`` may name a nested field's parent: ``sources`` matches ``sources.0.url``.
    """
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    assert body["title"]
    if type_:
        assert body["type"] == f"/problems/{type_}"
    if field:
        names = list(body.get("errors") or {})
        assert any(name == field or name.startswith(f"{field}.") for name in names), names
    return body
