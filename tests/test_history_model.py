"""Random histories through the API against a plain in-memory model of the rules of history."""

from dataclasses import dataclass
from datetime import date, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from friendsgroup.db import get_db
from friendsgroup.portability.restore import check_history
from friendsgroup.tokens import create_token
from tests.conftest import clean
from tests.support import FRIENDS

PARTICIPANTS = ["KEN", "JPN", "FRA"]
START = date(2024, 5, 2)
DAYS = [START + timedelta(days=30 * n) for n in range(8)]


@dataclass
class Recorded:
    """One event as the model knows it."""

    id: int
    participant: str
    type: str
    on: date
    retracted: bool = False
    place: int | None = None  # kept from the event it corrected on the same day

    @property
    def order(self) -> int:
        return self.place or self.id


class Model:
    """The rules, written as plainly as possible."""

    def __init__(self) -> None:
        self.events: list[Recorded] = []

    def alternates(self, events: list[tuple[date, float, str]]) -> bool:
        member = False
        for _, _, kind in sorted(events):
            if (kind == "accession") == member:
                return False
            member = not member
        return True

    def timeline(self, participant: str, without: int | None = None):
        return [
            (e.on, e.order, e.type)
            for e in self.events
            if e.participant == participant and not e.retracted and e.id != without
        ]

    def may_record(self, participant: str, kind: str, on: date) -> bool:
        return self.alternates([*self.timeline(participant), (on, float("inf"), kind)])

    def may_retract(self, event: Recorded) -> bool:
        return not event.retracted and self.alternates(self.timeline(event.participant, event.id))

    def may_correct(self, event: Recorded, on: date) -> bool:
        rest = self.timeline(event.participant, event.id)
        order = event.order if on == event.on else float("inf")
        return not event.retracted and self.alternates([*rest, (on, order, event.type)])

    def members(self, on: date) -> list[str]:
        result = []
        for participant in PARTICIPANTS:
            state = False
            for day, _, kind in sorted(self.timeline(participant)):
                if day <= on:
                    state = kind == "accession"
            if state:
                result.append(participant)
        return result


actions = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"),
            st.sampled_from(PARTICIPANTS),
            st.sampled_from(["accession", "withdrawal"]),
            st.sampled_from(DAYS),
        ),
        st.tuples(st.just("retract"), st.integers(0, 20)),
        st.tuples(st.just("correct"), st.integers(0, 20), st.sampled_from(DAYS)),
        # A correction of the note alone: the replacement keeps the event's place in its day.
        st.tuples(st.just("amend"), st.integers(0, 20)),
    ),
    min_size=10,
    max_size=30,
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=actions,
    probes=st.lists(
        st.sampled_from(DAYS + [DAYS[-1] + timedelta(days=400)]), min_size=3, max_size=3
    ),
)
# Joined and left on one day, then the accession amended: its replacement's id comes after
# the withdrawal's, its place before it.
@example(
    steps=[
        ("record", "KEN", "accession", DAYS[0]),
        ("record", "KEN", "withdrawal", DAYS[0]),
        ("amend", 0),
    ],
    probes=[DAYS[0], DAYS[1], DAYS[2]],
)
def test_the_api_decides_like_the_model(app, steps, probes):
    clean(app)
    with get_db(app).transaction() as session:
        auth = {"Authorization": f"Bearer {create_token(session, 'model')}"}
    client = app.test_client()
    assert client.post("/api/v1/groups", json=FRIENDS, headers=auth).status_code == 201
    model = Model()
    for number, step in enumerate(steps):
        if step[0] == "record":
            _, participant, kind, on = step
            expected = model.may_record(participant, kind, on)
            path = "accessions" if kind == "accession" else "withdrawals"
            response = client.post(
                f"/api/v1/groups/friends/{path}",
                json={"participant": participant, "effective_on": on.isoformat()},
                headers=auth,
            )
            assert response.status_code == (201 if expected else 409), (step, response.json)
            if expected:
                model.events.append(Recorded(response.json["id"], participant, kind, on))
        elif not model.events:
            continue
        elif step[0] == "retract":
            event = model.events[step[1] % len(model.events)]
            expected = model.may_retract(event)
            response = client.post(
                f"/api/v1/events/{event.id}/retraction", json={"reason": "test"}, headers=auth
            )
            assert response.status_code == (200 if expected else 409), (step, response.json)
            event.retracted = event.retracted or expected
        elif step[0] == "amend":
            event = model.events[step[1] % len(model.events)]
            response = client.post(
                f"/api/v1/events/{event.id}/correction",
                json={"reason": "test", "note": f"amended as step {number}"},
                headers=auth,
            )
            assert response.status_code == (409 if event.retracted else 201), (step, response.json)
            if not event.retracted:
                event.retracted = True
                model.events.append(
                    Recorded(
                        response.json["id"],
                        event.participant,
                        event.type,
                        event.on,
                        place=event.order,
                    )
                )
        else:
            event = model.events[step[1] % len(model.events)]
            on = step[2]
            expected = model.may_correct(event, on)
            response = client.post(
                f"/api/v1/events/{event.id}/correction",
                json={"reason": "test", "effective_on": on.isoformat()},
                headers=auth,
            )
            # A correction to the date the event already has changes nothing: 422.
            unchanged = not event.retracted and on == event.on
            status = 422 if unchanged else 201 if expected else 409
            assert response.status_code == status, (step, response.json)
            expected = expected and not unchanged
            if expected:
                event.retracted = True
                place = event.order if on == event.on else None
                model.events.append(
                    Recorded(response.json["id"], event.participant, event.type, on, place=place)
                )
    for on in probes:
        report = client.get(f"/api/v1/groups/friends/members?as_of={on.isoformat()}").json
        assert sorted(m["code"] for m in report["members"]) == sorted(model.members(on)), on
    # Whatever history the API accepted, a restore of it accepts too.
    with get_db(app).engine.connect() as connection:
        check_history(connection)
