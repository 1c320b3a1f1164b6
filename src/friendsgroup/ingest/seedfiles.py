"""Reading the seed files: JSON lists and CSV rows, loaded by the API's schemas, errors named."""

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from marshmallow import ValidationError

from ..errors import Problem, flatten_errors


class SeedError(Exception):
    """A seed file that cannot be loaded; the message names the file and the line."""


def shipped_seeds() -> Path:
    """The HAIP seed files that come with friendsgroup: in the wheel, or atop a checkout."""
    package = Path(__file__).resolve().parents[1]
    packaged = package / "_seeds"
    if packaged.is_dir():
        return packaged
    return package.parents[1] / "seeds"


def json_items(path: Path) -> list[dict]:
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SeedError(f"{path.name}: cannot be read: {error}") from None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise SeedError(f"{path.name}: must be a JSON list of objects")
    return items


def csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each row of a CSV file with a header."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            start = 2
            for row in reader:
                line, start = start, reader.line_num + 1
                if None in row or None in row.values():
                    raise SeedError(f"{path.name} line {line}: not as many cells as the header")
                yield line, row
    except (OSError, UnicodeDecodeError) as error:
        raise SeedError(f"{path.name}: cannot be read: {error}") from None


def load(schema, body: dict, where: str):
    """The body loaded by the API's schema, or a SeedError naming the first field at fault."""
    try:
        return schema.load(body)
    except ValidationError as error:
        name, messages = next(iter(flatten_errors(error.messages).items()))
        raise SeedError(f"{where}: {name}: {' '.join(messages)}") from None


@contextmanager
def named(where: str) -> Iterator[None]:
    """A refusal of the gate as a SeedError naming the file, the line and the field."""
    try:
        yield
    except Problem as problem:
        field, messages = next(iter((problem.errors or {"body": [problem.detail]}).items()))
        raise SeedError(f"{where}: {field}: {' '.join(messages)}") from None


def integer(text: str):
    """A CSV cell as an int when it is one (else as given, for the schema to refuse)."""
    return int(text) if text.isdecimal() else text
