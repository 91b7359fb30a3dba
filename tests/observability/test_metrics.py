"""The metrics registry: bounded namespace labels and what one observation counts."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from isolane.observability.metrics import Metrics


def samples(text: bytes) -> dict[tuple[str, frozenset], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def test_namespaces_beyond_the_cap_count_as_other() -> None:
    metrics = Metrics(max_namespaces=2)
    for ns in ("a", "b", "c", "d", "a"):
        metrics.observe(ns, "fetch", "ok", 5.0, 1.0, cold=ns == "a", subrequests=1)
    found = samples(metrics.render([{"index": 0, "alive": True, "idle_isolates": 2, "evictions": 3}], restarts=1))
    label = lambda ns: frozenset({"namespace": ns, "trigger": "fetch", "outcome": "ok"}.items())  # noqa: E731
    assert found[("isolane_invocations_total", label("a"))] == 2
    assert found[("isolane_invocations_total", label("b"))] == 1
    assert found[("isolane_invocations_total", label("other"))] == 2
    assert ("isolane_invocations_total", label("c")) not in found
    assert found[("isolane_cold_starts_total", frozenset())] == 2
    assert found[("isolane_subrequests_total", frozenset())] == 5
    assert found[("isolane_executor_restarts_total", frozenset())] == 1
    assert found[("isolane_isolates_idle", frozenset({"executor": "0"}.items()))] == 2
    assert found[("isolane_isolate_evictions_total", frozenset({"executor": "0"}.items()))] == 3
    assert found[("isolane_inflight_invocations", frozenset())] == 0
