"""The columns and rows of every download, in one place (the API's CSV and XLSX, the CLI's CSV).

Members carry their evidence (``earliest_on`` and the strongest source), events their sources
as numbered columns, announcements their source's fields: the JSON keeps its nested shape.
"""

from ..schemas import EventSchema
from ..tabular import columns_of
from .schemas import MemberSchema

SOURCE_FIELDS = ["url", "title", "publisher", "published_on", "reliability"]
MEMBER_COLUMNS = [
    *columns_of(MemberSchema),
    "earliest_on",
    *(f"source_{name}" for name in SOURCE_FIELDS),
]
EVENT_COLUMNS = columns_of(EventSchema, exclude=["sources"])
ANNOUNCEMENT_COLUMNS = [
    "id",
    "as_of",
    "count",
    "bound",
    "note",
    "recorded_at",
    *(f"source_{name}" for name in SOURCE_FIELDS),
]


def _source_cells(source: dict | None) -> list:
    return [(source or {}).get(name) for name in SOURCE_FIELDS]


def member_table(report: dict) -> tuple[list[str], list[list]]:
    """A members report built ``evidence=True``: one row per member."""
    base = MEMBER_COLUMNS[: -len(SOURCE_FIELDS) - 1]
    rows = [
        [m[c] for c in base] + [m["earliest_on"]] + _source_cells(m["source"])
        for m in report["members"]
    ]
    return MEMBER_COLUMNS, rows


def event_table(events: list[dict]) -> tuple[list[str], list[list]]:
    """One row per event; its sources as ``source_1_url`` … up to the most any event has."""
    most = max([1, *(len(e["sources"]) for e in events)])
    header = EVENT_COLUMNS + [
        f"source_{n}_{name}" for n in range(1, most + 1) for name in SOURCE_FIELDS
    ]
    rows = []
    for event in events:
        row = [_flat(event[c]) for c in EVENT_COLUMNS]
        for n in range(most):
            row += _source_cells(event["sources"][n] if n < len(event["sources"]) else None)
        rows.append(row)
    return header, rows


def announcement_table(items: list[dict]) -> tuple[list[str], list[list]]:
    """One row per announcement, with its source's reliability beside its count."""
    base = ANNOUNCEMENT_COLUMNS[: -len(SOURCE_FIELDS)]
    rows = [[_flat(a[c]) for c in base] + _source_cells(a["source"]) for a in items]
    return ANNOUNCEMENT_COLUMNS, rows


def _flat(value):
    """A nested value as one cell: a participant by its code, a list space-separated."""
    if isinstance(value, dict):
        return value.get("code")
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    return value
