"""The pure parts of deployments, tags and versions' secrets (the HTTP tests cover the rest)."""

from __future__ import annotations

import pytest

from isolane.errors import BadRequest, IsolaneError
from isolane.platform.deployments import choose, main_version, rollout_point
from isolane.platform.secrets import SecretSet
from isolane.platform.tags import parse_filter


def test_rollout_point_is_stable_and_spread() -> None:
    assert rollout_point("d1", "user-7") == rollout_point("d1", "user-7")
    assert rollout_point("d1", "user-7") != rollout_point("d2", "user-7")  # a new deployment reshuffles
    points = [rollout_point("d1", f"k{i}") for i in range(10_000)]
    assert all(0 <= point < 100 for point in points)
    assert abs(sum(point < 30 for point in points) / len(points) - 0.30) < 0.02


def test_choose_lays_shares_end_to_end() -> None:
    shares = [("a", 30), ("b", 70)]
    assert [choose(shares, point) for point in (0, 29.999, 30, 99.999)] == ["a", "a", "b", "b"]
    assert choose([("a", 33.3), ("b", 66.7)], 99.99999999) == "b"


def test_main_version_is_the_largest_share_first_on_ties() -> None:
    assert main_version([{"version_id": "a", "percentage": 30}, {"version_id": "b", "percentage": 70}]) == "b"
    assert main_version([{"version_id": "a", "percentage": 50}, {"version_id": "b", "percentage": 50}]) == "a"


def test_tag_filters() -> None:
    found = parse_filter("a,b:yes,c:no,d:maybe")
    assert (found.required, found.excluded) == (("a", "b", "d:maybe"), ("c",))
    for bad in ("", "a,,b", ":no", " "):
        with pytest.raises(BadRequest):
            parse_filter(bad)


def test_a_version_keeps_its_secrets() -> None:
    stored = SecretSet.of([("B", "secret_text", b"\x01cipher-b"), ("A", "secret_text", b"\x01cipher-a")])
    meta = stored.metadata("build")
    assert SecretSet.of_version(meta) == stored
    assert SecretSet.of_version(SecretSet().metadata("build")) == SecretSet()
    # Versions stored before they kept their secrets: none without secrets, unknown otherwise.
    assert SecretSet.of_version({"secrets_digest": None}) == SecretSet()
    assert SecretSet.of_version({"secrets_digest": stored.digest}) is None
    with pytest.raises(IsolaneError):
        SecretSet.of_version({**meta, "secrets_digest": "0" * 64})
    later = SecretSet.of([("A", "secret_text", b"\x01cipher-a"), ("C", "secret_text", b"\x01cipher-c")])
    assert stored.changed(later) == ["B", "C"] and stored.changed(stored) == []
