"""The pure functions: interval ends, cursors, CSV cells, columns, the date rules, log lines."""

import csv
import io
import json
import logging
import sys
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from friendsgroup.api.pages import decode_cursor, encode_cursor
from friendsgroup.errors import Problem
from friendsgroup.history import check_dates, latest_effective_on
from friendsgroup.logs import REDACTED, JsonFormatter, RequestIdFilter, logconfig, redact_query
from friendsgroup.reports.schemas import CountPointSchema, MemberSchema
from friendsgroup.tabular import columns_of, csv_text, neutralise, table
from friendsgroup.timeutil import end_of, interval_ends, isoformat_z

D = date.fromisoformat


@pytest.mark.parametrize(
    ("day", "interval", "end"),
    [
        ("2025-02-10", "day", "2025-02-10"),
        ("2025-02-10", "week", "2025-02-16"),  # ISO weeks end on Sunday
        ("2025-02-16", "week", "2025-02-16"),
        ("2025-02-10", "month", "2025-02-28"),
        ("2024-02-10", "month", "2024-02-29"),
        ("2025-12-05", "month", "2025-12-31"),
        ("2025-02-10", "quarter", "2025-03-31"),
        ("2025-11-10", "quarter", "2025-12-31"),
        ("2025-02-10", "year", "2025-12-31"),
    ],
)
def test_end_of_an_interval(day, interval, end):
    assert end_of(D(day), interval) == D(end)


def test_the_last_week_of_the_calendar_ends_at_date_max():
    assert end_of(date.max - timedelta(days=1), "week") == date.max


def test_interval_ends_are_clipped_to_the_range():
    ends = interval_ends(D("2025-01-15"), D("2025-04-10"), "month", limit=100)
    assert ends == [D("2025-01-31"), D("2025-02-28"), D("2025-03-31"), D("2025-04-10")]


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_interval_ends_past_the_limit_are_none(interval):
    assert interval_ends(D("2000-01-01"), D("2025-01-01"), interval, limit=10) is None


def test_interval_ends_stop_at_date_max():
    assert interval_ends(D("9999-12-01"), date.max, "year", limit=5) == [date.max]


def test_a_cursor_round_trips_its_key():
    values = [D("2025-06-01"), 42]
    assert decode_cursor(encode_cursor(values), [date, int]) == values


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        encode_cursor([1]),  # wrong length
        encode_cursor(["2025-06-01", "x"]),  # wrong type
        encode_cursor(["2025-06-01", 2**63]),  # out of range
        encode_cursor(["not a date", 1]),
    ],
)
def test_a_forged_cursor_is_a_422_naming_cursor(cursor):
    with pytest.raises(Problem) as refused:
        decode_cursor(cursor, [date, int])
    assert refused.value.status == 422
    assert list(refused.value.errors) == ["cursor"]


def test_a_string_key_with_nul_is_not_a_cursor():
    with pytest.raises(Problem):
        decode_cursor(encode_cursor(["a\x00b"]), [str])


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (-3, "-3"),  # numbers are numbers, not formulas
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("Türkiye", "Türkiye"),
    ],
)
def test_a_csv_cell_is_neutralised(value, cell):
    assert neutralise(value) == cell


def test_csv_text_has_a_header_and_crlf_rows():
    text = csv_text(["a", "b"], [["=1", None], [2, "x,y"]])
    assert text == 'a,b\r\n\'=1,\r\n2,"x,y"\r\n'
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["'=1", ""], ["2", "x,y"]]


def test_columns_follow_the_documented_shape():
    assert columns_of(MemberSchema)[:2] == ["code", "name"]
    assert columns_of(CountPointSchema) == [
        "date",
        "count",
        "joined",
        "left",
        "possibly_members",
        "announced",
        "announced_bound",
    ]
    assert "name" not in columns_of(MemberSchema, exclude=["name"])


def test_a_terminal_table_aligns_numbers_right():
    lines = table(["name", "n"], [["Kenya", 3], ["Japan", 12]]).splitlines()
    assert lines[0].startswith("name")
    assert lines[2].endswith(" 3") and lines[3].endswith("12")


def test_isoformat_z_keeps_microseconds():
    from datetime import UTC, datetime

    assert (
        isoformat_z(datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2025-01-02T03:04:05.000006Z"
    )


TARGET = SimpleNamespace(starts_on=D("2024-05-02"), slug="friends", is_group=True)


@pytest.mark.parametrize(
    ("effective_on", "earliest_on", "field"),
    [
        ("2024-05-01", None, "effective_on"),
        ("2024-06-01", "2024-07-01", "earliest_on"),
        ("2024-06-01", "2024-05-01", "earliest_on"),
    ],
)
def test_check_dates_names_the_field_at_fault(effective_on, earliest_on, field):
    with pytest.raises(Problem) as refused:
        check_dates(TARGET, D(effective_on), earliest_on and D(earliest_on))
    assert refused.value.status == 422
    assert list(refused.value.errors) == [field]


def test_check_dates_refuses_more_than_366_days_ahead():
    too_far = latest_effective_on() + timedelta(days=1)
    with pytest.raises(Problem) as refused:
        check_dates(TARGET, too_far, None)
    assert "366 days" in refused.value.detail
    check_dates(TARGET, latest_effective_on(), None)


# --- log lines -------------------------------------------------------------------------------


def test_a_json_log_line_has_the_access_fields_and_only_the_type_of_an_exception():
    try:
        raise ValueError("SELECT secret FROM api_tokens")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    record.status, record.path = 503, "/api/v1/groups"
    assert RequestIdFilter().filter(record) and record.request_id == "-"  # outside a request
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and line["message"] == "failed"
    assert line["status"] == 503 and line["path"] == "/api/v1/groups"
    assert line["exception"] == "ValueError" and "secret" not in json.dumps(line)


def test_an_access_token_in_a_query_is_redacted_and_other_queries_kept():
    assert redact_query("as_of=2025-01-01") == "as_of=2025-01-01"
    assert redact_query("access_token=fg_abc&as_of=2025-01-01") == (
        f"access_token={REDACTED.replace('[', '%5B').replace(']', '%5D')}&as_of=2025-01-01"
    )


def test_an_unknown_log_format_is_refused_by_name():
    assert logconfig("json")["formatters"]["line"] == {"()": "friendsgroup.logs.JsonFormatter"}
    with pytest.raises(ValueError, match="LOG_FORMAT must be one of text, json, not 'xml'"):
        logconfig("xml")
