"""Rows out: the columns a schema documents, CSV with neutralised cells, terminal tables."""

import csv
import io
from collections.abc import Iterable, Sequence

from marshmallow import Schema

CSV_MIMETYPE = "text/csv"
# A spreadsheet treats a cell starting with these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def columns_of(schema: type[Schema], *, exclude: Sequence[str] = ()) -> list[str]:
    """The CSV columns of a documented shape: its fields' names, in declaration order."""
    fields = schema().dump_fields.values()
    return [f.data_key or f.name for f in fields if f.name not in exclude]


def neutralise(value) -> str:
    """A CSV cell that no spreadsheet will evaluate."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """CSV with a header row; every cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def table(header: list[str], rows: list[list]) -> str:
    """Aligned columns with a rule under the header; numbers right-aligned."""
    cells = [[_text(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]
    numeric = [all(isinstance(row[i], int) for row in rows) and rows for i in range(len(header))]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])


def _text(value) -> str:
    """A value as a terminal cell: booleans as "yes" or blank."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)
