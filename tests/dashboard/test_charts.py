"""Server-drawn SVG charts and the numbers behind them."""

from __future__ import annotations

import pytest

from isolane.dashboard.charts import Series, bar_chart, line_chart, nice_ceiling
from isolane.dashboard.invoke import parse_invoke_form
from isolane.dashboard.timeline import percentile
from isolane.errors import BadRequest


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (0.7, 1), (1, 1), (1.2, 2), (2.2, 2.5), (3, 5), (7, 10), (43, 50), (180, 200)])
def test_nice_ceiling(value: float, ceiling: float) -> None:
    assert nice_ceiling(value) == pytest.approx(ceiling)


def test_line_chart_breaks_lines_at_gaps_and_escapes_labels() -> None:
    svg = line_chart("t <x>", ["a<", "b", "c", "d"], [Series("p95", [1.0, 2.0, None, 4.0], "series-p95")], " ms", str)
    assert svg.count("<circle") == 3
    assert svg.count("<polyline") == 1  # only the run a-b has two points
    assert "a&lt;" in svg and "t &lt;x&gt;" in svg and "<x>" not in svg


def test_bar_chart_has_one_bar_per_known_value() -> None:
    svg = bar_chart("errors", ["a", "b", "c"], [None, 50.0, 100.0], "%", "series-errors", maximum=100.0)
    assert svg.count("<rect") == 2
    assert "b: 50%" in svg


def test_percentile_is_nearest_rank() -> None:
    values = sorted(float(n) for n in range(1, 101))
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.95) == 95.0
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([], 0.5) is None


def test_invoke_form_parsing() -> None:
    request = parse_invoke_form({"method": "post", "path": "/a?b=1", "headers": "X-One: 1\n\nx-two:  two \n", "body": "hi"}, 100)
    assert (request.method, request.path, request.headers, request.body) == ("POST", "/a?b=1", (("x-one", "1"), ("x-two", "two")), b"hi")
    for form in ({"method": "POST", "body": "x" * 101}, {"headers": "Bad Name: x"}, {"headers": "X: \u2603"}, {"path": "/a\nb"}):
        with pytest.raises(BadRequest):
            parse_invoke_form(form, 100)
