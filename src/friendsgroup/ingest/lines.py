"""The items of a bulk write: an event to record, or why a line of a file is refused."""

from dataclasses import dataclass
from typing import NamedTuple

from ..models import Group, Instrument


class NewEvent(NamedTuple):
    """One event of a bulk write: its target, type, body as the API's schemas load it, line."""

    target: Group | Instrument
    type: str
    data: dict
    line: int


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one line of a bulk write cannot be recorded."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class BulkProblems(Exception):
    """A refused bulk write, with every problem of every line at fault, in line order."""

    def __init__(self, problems: list[LineProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__(str(self.problems[0]) if self.problems else "refused")
