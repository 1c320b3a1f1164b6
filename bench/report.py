"""The result table: printed for people, written as JSON for tools."""

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Row:
    """One figure against its floor and target."""

    id: str
    figure: str
    value: float
    unit: str
    floor: float | None = None
    # A ratio bound, or an absolute one when there is no floor; None: shown, not judged.
    target: float | None = 0.0
    higher_is_better: bool = False
    judged: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.floor is None else self.value / self.floor

    @property
    def passed(self) -> bool:
        if self.target is None:
            return True
        measure = self.value if self.ratio is None else self.ratio
        return measure >= self.target if self.higher_is_better else measure <= self.target

    @property
    def result(self) -> str:
        if self.target is None:
            return "—"
        if not self.judged:
            return "n/a"
        return "pass" if self.passed else "FAIL"

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        sign = "≥" if self.higher_is_better else "≤"
        suffix = "×" if self.floor is not None else f" {self.unit}"
        return f"{sign} {self.target:g}{suffix}"

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "result": self.result}


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"
    return f"{text} {unit}"


def table(rows: list[Row]) -> str:
    """Aligned columns: #, figure, value, floor, ratio, target, result."""
    header = ("#", "figure", "value", "floor", "ratio", "target", "result")
    cells = [header] + [
        (
            row.id,
            row.figure,
            _number(row.value, row.unit),
            _number(row.floor, row.unit),
            "—" if row.ratio is None else f"{row.ratio:.2f}×",
            row.target_text(),
            row.result,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    right = {2, 3, 4}  # numbers line up on the right

    def line(values) -> str:
        return "  ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(c) for c in cells[1:])])


def write_json(path: Path, rows: list[Row], environment: dict, checks: list[dict]) -> None:
    """The rows, the write checks and the environment, as one JSON document."""
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "rows": [row.as_dict() for row in rows],
        "writes": checks,
        "environment": environment,
    }
    path.write_text(json.dumps(document, indent=2, default=str) + "\n", encoding="utf-8")
