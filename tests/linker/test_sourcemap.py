"""Source maps read a few lines at a time, from checkpoints stored at link time."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from isolane.linker import Module, ModuleType, SourceMap, link, sourcemap
from isolane.linker.sourcemap import CHECKPOINT_LINES, MAX_UNINDEXED, checkpoints


def _linked(lines: int):  # type: ignore[no-untyped-def]
    body = "".join(f"export function f{i}(a) {{ return a + {i}; }}\n" for i in range(lines))
    code = body + 'export default { fetch() { throw new Error("deep"); } };\n'
    return asyncio.run(link([Module("main.js", ModuleType.ESM, code.encode())], "main.js"))


def _position_of(code: str, needle: str) -> tuple[int, int]:
    lines = code.split("\n")
    line = next(i for i, text in enumerate(lines, 1) if needle in text)
    return line, lines[line - 1].index(needle) + 1


def test_lines_far_from_a_checkpoint_map_back_as_a_full_decode_would() -> None:
    linked = _linked(5 * CHECKPOINT_LINES + 7)
    stored = SourceMap.parse(linked.source_map)
    data = orjson.loads(linked.source_map)
    assert data["x_isolane_checkpoints"][: 4 * 2] != []
    unindexed = SourceMap.parse(orjson.dumps({k: v for k, v in data.items() if k != "x_isolane_checkpoints"}))
    line, column = _position_of(linked.code, 'throw new Error("deep")')
    expected = ("main.js", 5 * CHECKPOINT_LINES + 8)
    for source_map in (stored, unindexed):
        position = source_map.original(line, column)
        assert position is not None and (position.source, position.line) == expected
    for line in range(1, linked.code.count("\n") + 2):  # every line agrees with and without stored checkpoints
        assert stored.original(line, 3) == unindexed.original(line, 3)


def test_checkpoints_hold_the_state_at_each_run_of_lines() -> None:
    # Four lines, one segment each, moving one original line down every time.
    mappings = ";".join(["AACA"] * (CHECKPOINT_LINES + 1))
    found = checkpoints(mappings)
    assert found[:4] == [0, 0, 0, 0]
    assert found[4:] == [len(mappings) - 4, 0, CHECKPOINT_LINES, 0]


def test_a_stored_map_is_never_decoded_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a position decodes at most CHECKPOINT_LINES lines: for the map of a 4.5 MB
    script that is ~0.07 s with parsing, where decoding it whole took ~2.2 s."""
    linked = _linked(60_000)
    monkeypatch.setattr(sourcemap, "checkpoints", lambda mappings: pytest.fail("the whole map was decoded"))
    source_map = SourceMap.parse(linked.source_map)
    line, column = _position_of(linked.code, 'throw new Error("deep")')
    position = source_map.original(line, column)
    assert position is not None and (position.source, position.line) == ("main.js", 60_001)


def test_garbage_and_huge_unindexed_maps_map_nothing() -> None:
    assert SourceMap.parse(b'{"sources": ["a.js"], "mappings": "AA!A"}').original(1, 1) is None
    huge = SourceMap.parse(orjson.dumps({"sources": ["a.js"], "mappings": "AAAA;" * (MAX_UNINDEXED // 5 + 1)}))
    assert huge.original(1, 1) is None
