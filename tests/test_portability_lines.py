"""The dump's lines without a database: many rows checked at once decode and refuse exactly as
one row at a time does."""

from datetime import UTC, date, datetime

import orjson
import pytest

from friendsgroup.models import Event
from friendsgroup.portability import dumpfile
from friendsgroup.portability.dumpfile import (
    LineError,
    columns_decoder,
    encode_line,
    parse_many,
    row_decoder,
)
from friendsgroup.portability.schema import dumped_table

EVENTS = dumped_table(Event.__table__)
NAMES = [column.name for column in EVENTS.columns]


def event(**cells) -> list:
    """An events row as a dump line holds it: these cells, the required ones filled in."""
    row = dict.fromkeys(NAMES)
    row.update(
        id=1,
        type="accession",
        group_id=1,
        participant_id=1,
        effective_on="2024-05-02",
        recorded_at="2024-05-02T10:00:00.123456Z",
        recorded_by="curator",
    )
    row.update(cells)
    return [row[name] for name in NAMES]


AWKWARD = [
    event(),
    event(id=2, recorded_at="2024-05-02T10:00:00Z", earliest_on="2024-01-01"),
    event(id=3, recorded_at="2024-05-02T12:00:00.5+02:00", note='tab\t, quote " and é'),
    event(id=4, retracted_at="2024-06-01T00:00:00+00:00", retraction_reason="", note=""),
    event(id=5, type="commitment", provisions={"b": [1, {"z": None}], "a": "\u0001"}),
    event(id=6, provisions=[]),
]


def one_by_one(values: list) -> list:
    decode = row_decoder(EVENTS)
    return [tuple(decode(number, value)) for number, value in enumerate(values, 10)]


def rows_of(columns: list) -> list:
    return list(zip(*columns, strict=True))


def test_many_rows_in_utc_are_decoded_column_by_column(monkeypatch):
    in_utc = [value for value in AWKWARD if "+02:00" not in str(value)]
    expected = one_by_one(in_utc)

    def never(table):
        return lambda number, value: pytest.fail("decoded row by row")

    monkeypatch.setattr(dumpfile, "row_decoder", never)
    assert rows_of(columns_decoder(EVENTS)(10, in_utc)) == expected


def test_many_rows_decode_as_each_row_does():
    decoded = rows_of(columns_decoder(EVENTS)(10, AWKWARD))
    assert decoded == one_by_one(AWKWARD)
    recorded = NAMES.index("recorded_at")
    assert decoded[2][recorded] == datetime(2024, 5, 2, 10, 0, 0, 500000, tzinfo=UTC)
    assert decoded[1][NAMES.index("earliest_on")] == date(2024, 1, 1)


BAD_CELLS = {
    "a boolean for an integer": {"group_id": True},
    "a float for an integer": {"participant_id": 1.0},
    "a text too long": {"recorded_by": "x" * 101},
    "a null where none may be": {"type": None},
    "a date that is none": {"effective_on": "2024-02-30"},
    "a date of another shape": {"effective_on": "20240502"},
    "an instant without its offset": {"recorded_at": "2024-05-02T10:00:00"},
    "an instant that is no text": {"recorded_at": 1714644000},
}


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_a_bad_cell_among_many_is_refused_as_alone(case):
    values = [event(id=n) for n in range(1, 8)]
    values[4] = event(id=5, **BAD_CELLS[case])
    with pytest.raises(LineError) as alone:
        one_by_one(values)
    with pytest.raises(LineError) as among_many:
        columns_decoder(EVENTS)(10, values)
    assert str(among_many.value) == str(alone.value)
    assert str(alone.value).startswith("line 14: events.")


def test_a_row_of_another_width_is_refused_as_alone():
    values = [event(id=1), event(id=2)[:-1]]
    with pytest.raises(LineError, match="line 11: not a row of events"):
        columns_decoder(EVENTS)(10, values)


def test_lines_parsed_at_once_stop_at_the_first_bad_line():
    lines = [encode_line(row) for row in AWKWARD]
    assert parse_many(2, lines) == ([orjson.loads(line) for line in lines], None)
    values, refusal = parse_many(2, [lines[0], b"[1,\n", lines[1]])
    assert values == [AWKWARD[0]] and str(refusal) == "line 3: not a JSON value"
    values, refusal = parse_many(2, [lines[0], lines[1].rstrip(b"\n")])
    assert len(values) == 1 and "line 3: the line is cut short" in str(refusal)
