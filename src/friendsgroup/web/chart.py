"""The growth chart as SVG, drawn on the server from a counts series and the announcements.

Colours and fonts are presentation attributes, not CSS, so that the file stands alone
(``chart.svg``) and needs no inline style under the pages' Content-Security-Policy.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

from ..reports.announced import RELIABILITY_RANK

WIDTH, HEIGHT = 760, 360
LEFT, RIGHT, TOP, BOTTOM = 52, 20, 24, 86
COUNTED = "#1f4e99"
BAND = "#9db8e6"
AS_OF = "#333333"
GRID = "#d9d9d9"
MARKERS = {"official": "#b3261e", "reported": "#9a5800", "unverified": "#555555"}
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Labels:
    """The words of the chart, in the page's language."""

    title: str
    desc: str
    counted: str
    possibly: str
    announced: dict[str, str]  # reliability → legend text
    as_of: str
    marker: Callable[[int, str, str], str]  # (count, date, reliability) → tooltip


def nice_step(top: int, ticks: int = 5) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most ``ticks`` gridlines."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if top / (step * factor) <= ticks:
                return step * factor
        step *= 10


def x_ticks(start: date, end: date) -> list[date]:
    """Year starts, and quarter starts as well when the span is under three years."""
    months = (1,) if (end - start).days > 3 * 366 else (1, 4, 7, 10)
    ticks = []
    for year in range(start.year, end.year + 1):
        for month in months:
            tick = date(year, month, 1)
            if start <= tick <= end:
                ticks.append(tick)
    return ticks


def strongest(announcements) -> list:
    """One announcement per (date, count): the most reliable, in date order."""
    best: dict[tuple, object] = {}
    for a in announcements:
        key = (a.as_of, a.count)
        held = best.get(key)
        if held is None or RELIABILITY_RANK.get(a.reliability, -1) > RELIABILITY_RANK.get(
            held.reliability, -1
        ):
            best[key] = a
    return [best[key] for key in sorted(best)]


def growth_chart(
    series: dict,
    announcements,
    as_of: date,
    labels: Labels,
    tick_label: Callable[[date], str],
    ident: str = "chart",
    standalone: bool = False,
) -> Markup:
    """The chart: counted step line, possibly-members band, announced markers, as-of line."""
    points = series["points"]
    start, end = date.fromisoformat(series["from"]), date.fromisoformat(series["to"])
    shown = [a for a in strongest(announcements) if start <= a.as_of <= end]
    top = max([1] + [p["count"] + p["possibly_members"] for p in points] + [a.count for a in shown])
    step = nice_step(top)
    y_max = -(-top // step) * step
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    span = max(1, (end - start).days)

    def x(day: date) -> float:
        return round(LEFT + plot_w * (day - start).days / span, 1)

    def y(count: int) -> float:
        return round(TOP + plot_h * (1 - count / y_max), 1)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" class="chart" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(labels.title)}</title>',
        f'<desc id="{ident}-desc">{escape(labels.desc)}</desc>',
    ]
    if standalone:
        out.append(f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>')
    # Axes and gridlines, each tick labelled with its value.
    out.append(f'<g class="y-axis" {FONT} font-size="12" fill="#333333" text-anchor="end">')
    for value in range(0, y_max + 1, step):
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value)}" y2="{y(value)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4}" data-value="{value}">{value}</text>'
        )
    out.append("</g>")
    out.append(f'<g class="x-axis" {FONT} font-size="12" fill="#333333" text-anchor="middle">')
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0)}" y2="{y(0)}" '
        f'stroke="#333333" stroke-width="1"/>'
    )
    for tick in x_ticks(start, end):
        out.append(
            f'<line x1="{x(tick)}" x2="{x(tick)}" y1="{y(0)}" y2="{y(0) + 5}" stroke="#333333"/>'
            f'<text x="{x(tick)}" y="{y(0) + 18}" data-date="{tick.isoformat()}">'
            f"{escape(tick_label(tick))}</text>"
        )
    out.append("</g>")
    if points:
        xs = [x(date.fromisoformat(p["date"])) for p in points]
        counted = [y(p["count"]) for p in points]
        upper = [y(p["count"] + p["possibly_members"]) for p in points]
        if any(p["possibly_members"] for p in points):
            band = [f"M{xs[0]} {upper[0]}"]
            band += [f"H{xs[i]}V{upper[i]}" for i in range(1, len(points))]
            band.append(f"V{counted[-1]}")
            band += [f"V{counted[i - 1]}H{xs[i - 1]}" for i in range(len(points) - 1, 0, -1)]
            out.append(
                f'<path class="possibly" d="{"".join(band)}Z" fill="{BAND}" '
                f'fill-opacity="0.6" stroke="none"/>'
            )
        line = [f"M{xs[0]} {counted[0]}"]
        line += [f"H{xs[i]}V{counted[i]}" for i in range(1, len(points))]
        out.append(
            f'<path class="counted" d="{"".join(line)}" fill="none" stroke="{COUNTED}" '
            f'stroke-width="2.5" stroke-linejoin="round"/>'
        )
    if start <= as_of <= end:
        out.append(
            f'<g class="as-of"><line x1="{x(as_of)}" x2="{x(as_of)}" y1="{TOP}" y2="{y(0)}" '
            f'stroke="{AS_OF}" stroke-width="1.5" stroke-dasharray="5 4"/>'
            f'<text x="{x(as_of)}" y="{TOP - 8}" {FONT} font-size="12" fill="{AS_OF}" '
            f'text-anchor="middle">{escape(labels.as_of)}</text></g>'
        )
    out.append(f'<g class="announced" {FONT} font-size="11" text-anchor="middle">')
    for a in shown:
        colour = MARKERS.get(a.reliability, MARKERS["unverified"])
        cx, cy = x(a.as_of), y(a.count)
        tip = escape(labels.marker(a.count, a.as_of.isoformat(), a.reliability))
        out.append(
            f'<g data-date="{a.as_of.isoformat()}" data-count="{a.count}" '
            f'data-reliability="{escape(a.reliability)}"><title>{tip}</title>'
            f"{_marker(a.reliability, cx, cy, colour)}"
            f'<text x="{cx}" y="{cy - 9}" fill="{colour}">{a.count}</text></g>'
        )
    out.append("</g>")
    out.append(_legend(labels))
    out.append("</svg>")
    return Markup("".join(out))


def _marker(reliability: str, cx: float, cy: float, colour: str) -> str:
    """A circle for official totals, a square for reported ones, a hollow circle otherwise."""
    if reliability == "official":
        return f'<circle cx="{cx}" cy="{cy}" r="5" fill="{colour}"/>'
    if reliability == "reported":
        return f'<rect x="{cx - 4.5}" y="{cy - 4.5}" width="9" height="9" fill="{colour}"/>'
    return (
        f'<circle cx="{cx}" cy="{cy}" r="4.5" fill="#ffffff" stroke="{colour}" stroke-width="2"/>'
    )


def _legend(labels: Labels) -> str:
    """The legend, in two rows under the x axis."""
    row1, row2 = HEIGHT - 44, HEIGHT - 20
    items = [
        f'<line x1="{LEFT}" x2="{LEFT + 24}" y1="{row1}" y2="{row1}" stroke="{COUNTED}" '
        f'stroke-width="2.5"/><text x="{LEFT + 30}" y="{row1 + 4}">{escape(labels.counted)}</text>',
        f'<rect x="{LEFT + 260}" y="{row1 - 6}" width="24" height="12" fill="{BAND}" '
        f'fill-opacity="0.6"/><text x="{LEFT + 290}" y="{row1 + 4}">'
        f"{escape(labels.possibly)}</text>",
    ]
    offset = LEFT
    for reliability, text in labels.announced.items():
        colour = MARKERS[reliability]
        items.append(
            _marker(reliability, offset + 6, row2, colour)
            + f'<text x="{offset + 16}" y="{row2 + 4}">{escape(text)}</text>'
        )
        offset += 190
    items.append(
        f'<line x1="{offset}" x2="{offset + 24}" y1="{row2}" y2="{row2}" stroke="{AS_OF}" '
        f'stroke-width="1.5" stroke-dasharray="5 4"/>'
        f'<text x="{offset + 30}" y="{row2 + 4}">{escape(labels.as_of)}</text>'
    )
    return f'<g class="legend" {FONT} font-size="12" fill="#333333">{"".join(items)}</g>'


def sparkline(series: dict, title: str, ident: str) -> Markup:
    """A small step line of a series, for the registry's list of groups."""
    points = series["points"]
    width, height, pad = 160, 40, 3
    top = max([1] + [p["count"] for p in points])
    n = max(1, len(points) - 1)

    def x(i: int) -> float:
        return round(pad + (width - 2 * pad) * i / n, 1)

    def y(count: int) -> float:
        return round(height - pad - (height - 2 * pad) * count / top, 1)

    path = ""
    if points:
        path = f"M{x(0)} {y(points[0]['count'])}" + "".join(
            f"H{x(i)}V{y(p['count'])}" for i, p in enumerate(points[1:], start=1)
        )
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" class="sparkline" role="img" '
        f'aria-labelledby="{ident}-title"><title id="{ident}-title">{escape(title)}</title>'
        f'<path d="{path}" fill="none" stroke="{COUNTED}" stroke-width="2"/></svg>'
    )
