"""Charts as inline SVG, drawn on the server: no chart library, no script. Colours come
from CSS classes (`series-*`), so the page's stylesheet styles them."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 720
HEIGHT = 200
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 26
PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_HEIGHT = HEIGHT - TOP - BOTTOM


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    values: Sequence[float | None]
    css_class: str  # e.g. "series-p95"


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))


def _x(index: int, count: int) -> float:
    return LEFT + (index + 0.5) * PLOT_WIDTH / max(count, 1)


def _y(value: float, maximum: float) -> float:
    return TOP + PLOT_HEIGHT * (1 - min(value, maximum) / maximum)


def _frame(title: str, labels: Sequence[str], maximum: float, unit: str) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for fraction in (0.0, 0.5, 1.0):
        y = _y(maximum * fraction, maximum)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(_number(maximum * fraction) + unit)}</text>')
    every = max(1, math.ceil(len(labels) / 8))
    for index, label in enumerate(labels):
        if index % every == 0:
            parts.append(f'<text class="axis" x="{_x(index, len(labels)):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(label)}</text>')
    return parts


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str, format_value: Callable[[float], str]) -> Markup:
    """Lines over the labelled slots; a missing value (None) breaks its line."""
    known = [value for line in series for value in line.values if value is not None]
    maximum = nice_ceiling(max(known, default=0.0))
    parts = _frame(title, labels, maximum, unit)
    for line in series:
        runs: list[list[str]] = [[]]
        for index, value in enumerate(line.values):
            if value is None:
                runs.append([])
                continue
            x, y = _x(index, len(labels)), _y(value, maximum)
            runs[-1].append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle class="point {escape(line.css_class)}" cx="{x:.1f}" cy="{y:.1f}" r="2.5">'
                f"<title>{escape(f'{labels[index]} {line.name}: {format_value(value)}')}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="line {escape(line.css_class)}" points="{" ".join(run)}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(title: str, labels: Sequence[str], values: Sequence[float | None], unit: str, css_class: str, maximum: float | None = None) -> Markup:
    """One bar per labelled slot (none where the value is None)."""
    top = maximum if maximum is not None else nice_ceiling(max((v for v in values if v is not None), default=0.0))
    parts = _frame(title, labels, top, unit)
    slot = PLOT_WIDTH / max(len(labels), 1)
    for index, value in enumerate(values):
        if value is None:
            continue
        y = _y(value, top)
        height = TOP + PLOT_HEIGHT - y
        x = LEFT + index * slot + slot * 0.15
        parts.append(
            f'<rect class="bar {escape(css_class)}" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{max(height, 0.5):.1f}">'
            f"<title>{escape(f'{labels[index]}: {_number(round(value, 1))}{unit}')}</title></rect>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))
