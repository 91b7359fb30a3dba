"""The code viewer's highlighting: a budget across a version's modules, cut at line ends,
an LRU of rendered modules, and rendering off the event loop."""

from __future__ import annotations

import asyncio
import time

from isolane.dashboard import highlight
from isolane.dashboard.highlight import (
    HIGHLIGHT_BUDGET_BYTES,
    MIN_PARTIAL_LINE_BYTES,
    Module,
    _RenderCache,
    highlight_module,
    render_version,
    render_version_async,
)


def js(lines: int, tag: str = "") -> bytes:
    return "".join(f'export const v{tag}{i} = "<b>{i}</b>";\n' for i in range(lines)).encode()


def test_a_version_is_highlighted_within_one_budget_across_its_modules() -> None:
    big = js(12_000, "a")  # about 370 KB: over the budget by itself
    assert len(big) > HIGHLIGHT_BUDGET_BYTES
    small = js(10, "b")
    modules = render_version("version-budget", [("small.js", "esm", small), ("big.js", "esm", big), ("after.js", "esm", small)])
    first, second, third = modules
    assert (first.shown, first.hidden) == (len(small), 0)
    assert '<span class="k">export</span>' in first.html
    assert "&lt;b&gt;" in first.html and "<b>" not in first.html  # escaped
    # The big module: cut at its last line end within what the budget leaves.
    assert 0 < second.shown <= HIGHLIGHT_BUDGET_BYTES - len(small)
    assert big[second.shown - 1 : second.shown] == b"\n"
    assert HIGHLIGHT_BUDGET_BYTES - len(small) - second.shown < 64  # less than a line short
    assert second.hidden == len(big) - second.shown
    # Nothing is left for the last one (less than a line's worth).
    assert (third.shown, third.hidden, str(third.html)) == (0, len(small), "")
    assert sum(module.shown for module in modules) <= HIGHLIGHT_BUDGET_BYTES


def test_a_long_line_is_cut_at_a_character_boundary_and_binary_is_not_shown() -> None:
    line = ("é" * 5000).encode()  # 10,000 bytes, no line end
    cut = highlight_module("min.js", "esm", line, MIN_PARTIAL_LINE_BYTES + 1)
    assert cut.shown == MIN_PARTIAL_LINE_BYTES  # back to the start of the split character
    assert highlight_module("min.js", "esm", line, MIN_PARTIAL_LINE_BYTES - 2).shown == 0  # not worth a fragment
    binary = highlight_module("data.bin", "data", b"\xff\xfe\x00", 100)
    assert binary.binary and binary.hidden == 0 and str(binary.html) == ""


def test_rendered_modules_are_cached_per_version_and_module() -> None:
    source = js(50, "c")
    first = render_version("version-cached", [("m.js", "esm", source)])[0]
    again = render_version("version-cached", [("m.js", "esm", source)])[0]
    assert again is first  # from the cache, not highlighted again
    other = render_version("version-other", [("m.js", "esm", source)])[0]
    assert other is not first and other.html == first.html


def test_the_cache_keeps_its_bound_and_evicts_the_least_recently_used() -> None:
    cache = _RenderCache(max_chars=100)

    def module(chars: int) -> Module:
        return highlight.Module("m", "esm", chars, highlight.Markup("x" * chars), False, chars)

    cache.put(("v", "a", "esm", 1), module(40))
    cache.put(("v", "b", "esm", 1), module(40))
    assert cache.get(("v", "a", "esm", 1)) is not None  # a is now the most recent
    cache.put(("v", "c", "esm", 1), module(40))  # over 100: b goes
    assert cache.get(("v", "b", "esm", 1)) is None
    assert cache.get(("v", "a", "esm", 1)) is not None and cache.get(("v", "c", "esm", 1)) is not None
    cache.put(("v", "huge", "esm", 1), module(101))  # larger than the whole cache: not kept
    assert cache.get(("v", "huge", "esm", 1)) is None and len(cache) == 2


def test_rendering_leaves_the_event_loop_free() -> None:
    """While a budget's worth is highlighted, a ticker on the loop keeps ticking: the
    longest pause is a fraction of the rendering time (blocking, it would be all of it)."""
    modules = [("big.js", "esm", js(12_000, "d"))]

    async def scenario() -> tuple[float, float]:
        gaps: list[float] = []
        done = False

        async def tick() -> None:
            last = time.monotonic()
            while not done:
                await asyncio.sleep(0.005)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.02)
        started = time.monotonic()
        await render_version_async("version-loop", modules)
        took = time.monotonic() - started
        done = True
        await ticker
        return took, max(gaps)

    took, longest_pause = asyncio.run(scenario())
    assert took > 0.05  # it did highlight (not from the cache)
    assert longest_pause < took / 2, (took, longest_pause)
