"""Server-rendered SVG charts for the dashboards (issue 11 §3): horizontal bars, stacked bars, columns
over time and lines.

No script and no chart library: the portal's Content-Security-Policy allows no inline script or style,
so every colour comes from a class that static/css/portal.css styles (`chart__mark--tone-N`,
`--good`, `--bad`), and the SVG carries only presentation geometry. Each chart has a `<title>` and a
`<desc>` (aria-labelledby), shows its numbers as text next to the marks, and links a mark to the
filtered list behind it when it has one. The page shows the same numbers as a table too.

Every text that reaches the markup goes through `format_html` (escaped): labels are enterprise names.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

# The drawing's own units; the SVG scales to its box (width 100%), so a phone shows it whole.
WIDTH = 480
FONT = 13


@dataclass(frozen=True)
class Bar:
    """One bar, column or stack segment: a label, a count, and the list it links to."""

    label: str
    value: float
    href: str | None = None
    tone: str = "0"  # a CSS modifier: "0".."5" (a series' colour), "good", "bad", "muted"
    note: str = ""  # added to the mark's <title> (what the number means)


@dataclass(frozen=True)
class Stack:
    """One row of a stacked bar chart: its segments in legend order (zero segments are not drawn)."""

    label: str
    segments: tuple[Bar, ...]
    href: str | None = None

    @property
    def total(self) -> float:
        return sum(segment.value for segment in self.segments)


@dataclass(frozen=True)
class Series:
    """One line of a line chart: a value per x label (None: nothing to show there)."""

    label: str
    values: tuple[float | None, ...]
    tone: str = "0"


@dataclass(frozen=True)
class Chart:
    """What a template needs: the SVG, and the legend entries (label, tone) shown beside it."""

    svg: SafeString
    legend: tuple[tuple[str, str], ...] = field(default_factory=tuple)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 × 10ⁿ at or above `value` (an axis maximum people can read)."""
    if value <= 0:
        return 1
    exponent = math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * 10**exponent
        if candidate >= value:
            return candidate
    return 10 ** (exponent + 1)  # pragma: no cover - the loop ends at 10 × 10ⁿ


def format_number(value: float, unit: str = "") -> str:
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    return f"{text}{unit}"


def _text_width(text: str) -> float:
    """About how wide `text` is at FONT size: a CJK character is a full em, a Latin one about half."""
    return sum(FONT if ord(char) > 0x2E7F else FONT * 0.56 for char in text)


def _short(label: str, room: float) -> str:
    """`label`, cut with "…" to fit `room` (the whole label is in the mark's <title>)."""
    if _text_width(label) <= room:
        return label
    cut = ""
    for char in label:
        if _text_width(cut + char + "…") > room:
            break
        cut += char
    return cut + "…"


def _frame(chart_id: str, title: str, desc: str, height: float, body: list[SafeString]) -> SafeString:
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-labelledby="{}-title {}-desc" '
        'font-size="{}" xmlns="http://www.w3.org/2000/svg"><title id="{}-title">{}</title>'
        '<desc id="{}-desc">{}</desc>{}</svg>',
        WIDTH,
        f"{height:.0f}",
        chart_id,
        chart_id,
        FONT,
        chart_id,
        title,
        chart_id,
        desc,
        mark_safe("".join(body)),  # noqa: S308 - every part was built by format_html
    )


def _linked(href: str | None, inner: SafeString) -> SafeString:
    return format_html('<a href="{}">{}</a>', href, inner) if href else inner


def _mark_title(label: str, bar: Bar, unit: str) -> str:
    text = f"{label}: {format_number(bar.value, unit)}"
    return f"{text} ({bar.note})" if bar.note else text


def _empty(chart_id: str, title: str, desc: str, message: str) -> Chart:
    text = format_html('<text class="chart__empty" x="{}" y="36" text-anchor="middle">{}</text>', WIDTH // 2, message)
    return Chart(svg=_frame(chart_id, title, desc, 60, [text]))


# --- horizontal bars (categories: states, enterprises, provinces, age buckets) ----------------------------

ROW = 26
LABEL_WIDTH = 170
LABEL_ROOM = LABEL_WIDTH - 12
VALUE_ROOM = 70  # right of the longest bar, for its number


def bar_chart(*, chart_id: str, title: str, desc: str, bars: Sequence[Bar], unit: str = "", empty: str = "") -> Chart:
    """Horizontal bars, one per category, each with its label on the left and its number on the right."""
    if not bars:
        return _empty(chart_id, title, desc, empty)
    top = max(bar.value for bar in bars) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_ROOM
    body: list[SafeString] = []
    for index, bar in enumerate(bars):
        y = 6 + index * ROW
        length = span * bar.value / top
        mark = format_html(
            '<g class="chart__row"><title>{}</title>'
            '<text class="chart__label" x="{}" y="{}" text-anchor="end">{}</text>'
            '<rect class="chart__mark chart__mark--tone-{}" x="{}" y="{}" width="{}" height="{}" rx="2"></rect>'
            '<text class="chart__value" x="{}" y="{}">{}</text></g>',
            _mark_title(bar.label, bar, unit),
            LABEL_WIDTH - 8,
            f"{y + ROW / 2 + 1:.0f}",
            _short(bar.label, LABEL_ROOM),
            bar.tone,
            LABEL_WIDTH,
            y + 4,
            f"{max(length, 1 if bar.value else 0):.1f}",
            ROW - 8,
            f"{LABEL_WIDTH + length + 6:.1f}",
            f"{y + ROW / 2 + 1:.0f}",
            format_number(bar.value, unit),
        )
        body.append(_linked(bar.href, mark))
    axis = format_html(
        '<line class="chart__axis" x1="{}" y1="2" x2="{}" y2="{}"></line>',
        LABEL_WIDTH,
        LABEL_WIDTH,
        len(bars) * ROW + 10,
    )
    return Chart(svg=_frame(chart_id, title, desc, len(bars) * ROW + 14, [axis, *body]))


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    stacks: Sequence[Stack],
    legend: Sequence[tuple[str, str]],
    unit: str = "",
    empty: str = "",
) -> Chart:
    """Horizontal stacked bars: one row per category, its segments side by side, its total on the right."""
    if not stacks or not any(stack.total for stack in stacks):
        return _empty(chart_id, title, desc, empty)
    top = max(stack.total for stack in stacks) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_ROOM
    body: list[SafeString] = []
    for index, stack in enumerate(stacks):
        y = 6 + index * ROW
        x = float(LABEL_WIDTH)
        parts = [
            format_html(
                '<text class="chart__label" x="{}" y="{}" text-anchor="end">{}<title>{}</title></text>',
                LABEL_WIDTH - 8,
                f"{y + ROW / 2 + 1:.0f}",
                _short(stack.label, LABEL_ROOM),
                stack.label,
            )
        ]
        for segment in stack.segments:
            if not segment.value:
                continue
            length = span * segment.value / top
            rect = format_html(
                '<rect class="chart__mark chart__mark--tone-{}" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}</title></rect>",
                segment.tone,
                f"{x:.1f}",
                y + 4,
                f"{max(length, 1):.1f}",
                ROW - 8,
                _mark_title(f"{stack.label} · {segment.label}", segment, unit),
            )
            parts.append(_linked(segment.href, rect))
            x += length
        total = format_html(
            '<text class="chart__value" x="{}" y="{}">{}</text>',
            f"{x + 6:.1f}",
            f"{y + ROW / 2 + 1:.0f}",
            format_number(stack.total, unit),
        )
        parts.append(_linked(stack.href, total))
        body.append(format_html('<g class="chart__row">{}</g>', mark_safe("".join(parts))))  # noqa: S308
    axis = format_html(
        '<line class="chart__axis" x1="{}" y1="2" x2="{}" y2="{}"></line>',
        LABEL_WIDTH,
        LABEL_WIDTH,
        len(stacks) * ROW + 10,
    )
    return Chart(svg=_frame(chart_id, title, desc, len(stacks) * ROW + 14, [axis, *body]), legend=tuple(legend))


# --- over time: columns (counts per day) and lines (rates per week) ---------------------------------------

PLOT_LEFT = 44
PLOT_RIGHT = WIDTH - 10
PLOT_TOP = 12
PLOT_HEIGHT = 150
X_AXIS_ROOM = 40  # under the plot: the tick labels and the axis label


def _y_axis(y_max: float, unit: str, y_label: str) -> list[SafeString]:
    """Three grid lines (0, half, top) with their numbers, and the axis label turned up the left side."""
    parts = []
    for fraction in (0, 0.5, 1):
        y = PLOT_TOP + PLOT_HEIGHT * (1 - fraction)
        parts.append(
            format_html(
                '<line class="chart__grid" x1="{}" y1="{}" x2="{}" y2="{}"></line>'
                '<text class="chart__tick" x="{}" y="{}" text-anchor="end">{}</text>',
                PLOT_LEFT,
                f"{y:.1f}",
                PLOT_RIGHT,
                f"{y:.1f}",
                PLOT_LEFT - 4,
                f"{y + 4:.1f}",
                format_number(y_max * fraction, unit),
            )
        )
    parts.append(
        format_html(
            '<text class="chart__axis-label" x="{}" y="{}" text-anchor="middle" '
            'transform="rotate(-90 {} {})">{}</text>',
            10,
            PLOT_TOP + PLOT_HEIGHT / 2,
            10,
            PLOT_TOP + PLOT_HEIGHT / 2,
            y_label,
        )
    )
    return parts


def _x_axis(labels: Sequence[str], x_of, every: int, x_label: str) -> list[SafeString]:
    base = PLOT_TOP + PLOT_HEIGHT
    parts = [
        format_html(
            '<line class="chart__axis" x1="{}" y1="{}" x2="{}" y2="{}"></line>', PLOT_LEFT, base, PLOT_RIGHT, base
        )
    ]
    last = len(labels) - 1
    for index, label in enumerate(labels):
        # The last label too, unless it would run into the one before it.
        if index % every == 0 or (index == last and last % every >= every / 2):
            parts.append(
                format_html(
                    '<text class="chart__tick" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x_of(index):.1f}",
                    base + 16,
                    label,
                )
            )
    parts.append(
        format_html(
            '<text class="chart__axis-label" x="{}" y="{}" text-anchor="middle">{}</text>',
            (PLOT_LEFT + PLOT_RIGHT) / 2,
            base + 34,
            x_label,
        )
    )
    return parts


def column_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    bars: Sequence[Bar],
    x_label: str,
    y_label: str,
    tick_labels: Sequence[str] | None = None,
    label_every: int = 5,
    unit: str = "",
) -> Chart:
    """Vertical columns over time (one per day): a y axis with grid lines, x ticks every few columns, and
    each column's number in its <title> and above it where there is room."""
    # At least 2: the half-way grid line of a count is then a whole number.
    y_max = max(nice_ceiling(max((bar.value for bar in bars), default=0)), 2)
    slot = (PLOT_RIGHT - PLOT_LEFT) / max(len(bars), 1)
    width = max(slot * 0.7, 1)

    def x_of(index: int) -> float:
        return PLOT_LEFT + slot * index + slot / 2

    body = _y_axis(y_max, unit, y_label)
    for index, bar in enumerate(bars):
        height = PLOT_HEIGHT * bar.value / y_max
        y = PLOT_TOP + PLOT_HEIGHT - height
        parts = [
            format_html(
                '<rect class="chart__mark chart__mark--tone-{}" x="{}" y="{}" width="{}" height="{}">'
                "<title>{}</title></rect>",
                bar.tone,
                f"{x_of(index) - width / 2:.1f}",
                f"{y:.1f}",
                f"{width:.1f}",
                f"{height:.1f}",
                _mark_title(bar.label, bar, unit),
            )
        ]
        if bar.value:
            parts.append(
                format_html(
                    '<text class="chart__value chart__value--small" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x_of(index):.1f}",
                    f"{y - 3:.1f}",
                    format_number(bar.value, unit),
                )
            )
        body.append(_linked(bar.href if bar.value else None, mark_safe("".join(parts))))  # noqa: S308
    body += _x_axis(tick_labels or [bar.label for bar in bars], x_of, label_every, x_label)
    return Chart(svg=_frame(chart_id, title, desc, PLOT_TOP + PLOT_HEIGHT + X_AXIS_ROOM, body))


def line_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    y_max: float | None = None,
    unit: str = "",
    label_every: int = 2,
) -> Chart:
    """One line per series over the x labels (weeks), a dot with its number in a <title> at each value."""
    top = y_max or nice_ceiling(max((v for s in series for v in s.values if v is not None), default=0))
    step = (PLOT_RIGHT - PLOT_LEFT - 20) / max(len(x_labels) - 1, 1)

    def x_of(index: int) -> float:
        return PLOT_LEFT + 10 + step * index

    def y_of(value: float) -> float:
        return PLOT_TOP + PLOT_HEIGHT * (1 - value / top)

    body = _y_axis(top, unit, y_label)
    for line in series:
        points = [(x_of(i), y_of(v), v, x_labels[i]) for i, v in enumerate(line.values) if v is not None]
        if len(points) > 1:
            body.append(
                format_html(
                    '<polyline class="chart__line chart__line--tone-{}" fill="none" points="{}"></polyline>',
                    line.tone,
                    " ".join(f"{x:.1f},{y:.1f}" for x, y, _v, _l in points),
                )
            )
        body.append(
            format_html_join(
                "",
                '<circle class="chart__dot chart__mark--tone-{}" cx="{}" cy="{}" r="3.5"><title>{}</title></circle>',
                (
                    (line.tone, f"{x:.1f}", f"{y:.1f}", f"{label} · {line.label}: {format_number(v, unit)}")
                    for x, y, v, label in points
                ),
            )
        )
    body += _x_axis(x_labels, x_of, label_every, x_label)
    legend = tuple((line.label, line.tone) for line in series)
    return Chart(svg=_frame(chart_id, title, desc, PLOT_TOP + PLOT_HEIGHT + X_AXIS_ROOM, body), legend=legend)


__all__ = [
    "Bar",
    "Chart",
    "Series",
    "Stack",
    "bar_chart",
    "column_chart",
    "format_number",
    "line_chart",
    "nice_ceiling",
    "stacked_bar_chart",
]
