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


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = "\ufeff"


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence], title: str = "data") -> bytes:
    """One worksheet with a bold header row; text stays text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    bold = Font(bold=True)
    heading = []
    for name in header:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        heading.append(cell)
    sheet.append(heading)
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _xlsx_cell(sheet, value):
    """A typed cell: numbers and booleans as such, any text as a string cell."""
    from openpyxl.cell import WriteOnlyCell

    if value is None or isinstance(value, bool | int | float):
        return value
    cell = WriteOnlyCell(sheet, value=str(value))
    # openpyxl reads text beginning with "=" as a formula; a value is never one.
    cell.data_type = "s"
    return cell
