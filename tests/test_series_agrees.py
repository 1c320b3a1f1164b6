"""Two reports of one fact agree: every point of the counts series is the members report."""

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from friendsgroup.db import get_db
from friendsgroup.models import Group
from friendsgroup.reports.members import members_report
from friendsgroup.reports.series import counts_series
from friendsgroup.tokens import create_token
from tests.conftest import clean
from tests.support import FRIENDS, accede, withdraw

START = date(2024, 5, 2)
PARTICIPANTS = ["KEN", "JPN", "FRA", "BRA"]
offsets = st.integers(0, 120)

histories = st.lists(
    st.tuples(
        st.sampled_from(PARTICIPANTS),
        st.sampled_from(["accession", "withdrawal"]),
        offsets,
        st.one_of(st.none(), st.integers(1, 90)),  # how far before effective_on the window opens
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=histories,
    start=offsets,
    length=st.integers(0, 60),
    interval=st.sampled_from(["day", "week", "month"]),
)
def test_every_point_equals_the_members_report(app, history, start, length, interval):
    clean(app)
    with get_db(app).transaction() as session:
        auth = {"Authorization": f"Bearer {create_token(session, 'series')}"}
    client = app.test_client()
    assert client.post("/api/v1/groups", json=FRIENDS, headers=auth).status_code == 201
    for participant, kind, offset, window in history:
        on = START + timedelta(days=offset)
        extra = {}
        if kind == "accession" and window is not None:
            extra["earliest_on"] = max(START, on - timedelta(days=window)).isoformat()
        write = accede if kind == "accession" else withdraw
        # Refused writes (409) are part of a random history: only accepted ones count.
        assert write(client, auth, participant, on.isoformat(), **extra).status_code in (201, 409)
    first = START + timedelta(days=start)
    last = first + timedelta(days=length)
    with get_db(app).transaction(write=False) as session:
        group = session.query(Group).one()
        series = counts_series(session, group, first, last, interval, None)
        known_at = series["known_at"]
        for point in series["points"]:
            report = members_report(session, group, date.fromisoformat(point["date"]), None)
            assert (point["count"], point["possibly_members"]) == (
                report["count"],
                report["possibly_members"],
            ), (point, known_at)
    # The same through HTTP, for one point, with a different `to`: a point never depends on it.
    if series["points"]:
        day = series["points"][0]["date"]
        narrow = client.get(
            f"/api/v1/groups/friends/counts?from={first.isoformat()}&to={day}&interval=day"
        ).json["points"][-1]
        members = client.get(f"/api/v1/groups/friends/members?as_of={day}").json
        assert (narrow["count"], narrow["possibly_members"]) == (
            members["count"],
            members["possibly_members"],
        )
