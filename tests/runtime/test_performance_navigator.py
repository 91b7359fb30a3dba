"""performance (High Resolution Time) and navigator, checked in a real isolate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JS = Callable[[str], Any]


def test_performance_now_counts_from_the_time_origin(js: JS) -> None:
    result = js(
        """
        (async () => {
          const first = performance.now();
          await new Promise((resolve) => setTimeout(resolve, 20));
          const second = performance.now();
          const origin = performance.timeOrigin;
          return {
            numbers: typeof first === "number" && typeof origin === "number",
            nonNegative: first >= 0,
            advanced: second - first >= 19,
            // now() is Date.now() relative to the origin (both in milliseconds).
            consistent: Math.abs(origin + performance.now() - Date.now()) <= 2,
            originInThePast: origin <= Date.now(),
            json: JSON.stringify(performance) === JSON.stringify({ timeOrigin: origin }),
            tag: Object.prototype.toString.call(performance),
            isEventTarget: performance instanceof EventTarget,
          };
        })()
        """
    )
    assert result == {
        "numbers": True,
        "nonNegative": True,
        "advanced": True,
        "consistent": True,
        "originInThePast": True,
        "json": True,
        "tag": "[object Performance]",
        "isEventTarget": True,
    }


def test_performance_and_navigator_cannot_be_constructed_or_borrowed(js: JS) -> None:
    result = js(
        """
        const errors = [];
        try { new Performance(); } catch (e) { errors.push(e.name); }
        try { new Navigator(); } catch (e) { errors.push(e.name); }
        try { performance.now.call({}); } catch (e) { errors.push(e.name); }
        try { Object.getOwnPropertyDescriptor(Navigator.prototype, "userAgent").get.call({}); } catch (e) { errors.push(e.name); }
        const globals = ["performance", "navigator"].map((name) => {
          const d = Object.getOwnPropertyDescriptor(globalThis, name);
          return [d.writable, d.enumerable, d.configurable];
        });
        ({ errors, globals })
        """
    )
    assert result == {"errors": ["TypeError"] * 4, "globals": [[True, False, True], [True, False, True]]}


def test_navigator(js: JS) -> None:
    result = js(
        """
        ({ userAgent: navigator.userAgent, hardwareConcurrency: navigator.hardwareConcurrency,
           tag: Object.prototype.toString.call(navigator), keys: Object.keys(Navigator.prototype).sort() })
        """
    )
    assert result == {
        "userAgent": "Isolane/0.1",
        "hardwareConcurrency": 1,
        "tag": "[object Navigator]",
        "keys": ["hardwareConcurrency", "userAgent"],
    }
