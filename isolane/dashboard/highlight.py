"""Source code as highlighted HTML (Pygments, on the server; classes styled by the CSS).

Highlighting is slow (seconds for a few MB) and its HTML is many times the source, so a
version page highlights at most HIGHLIGHT_BUDGET_BYTES of its modules in all, in upload
order; what is past the budget is not shown (the page says how many bytes, and where the
API serves them). It runs in a worker thread, at most CONCURRENT_RENDERS at a time, so
the event loop keeps serving; versions are immutable, so the HTML is kept in a small LRU.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import JavascriptLexer, JsonLexer, TextLexer, TypeScriptLexer

CSS_CLASS = "code"
STYLE = "friendly"
HIGHLIGHT_BUDGET_BYTES = 256 * 1024  # of source, per version page, across its modules
CACHE_CHARS = 32 * 1024 * 1024  # rendered HTML kept, in all
CONCURRENT_RENDERS = 2  # Pygments holds the GIL: more threads would only starve the loop
MIN_PARTIAL_LINE_BYTES = 4096  # a line is cut short only to show at least this much of it
_LEXERS: dict[str, type[Lexer]] = {
    "esm": JavascriptLexer,
    "commonjs": JavascriptLexer,
    "javascript": JavascriptLexer,
    "typescript": TypeScriptLexer,
    "json": JsonLexer,
}


@dataclass(frozen=True, slots=True)
class Module:
    name: str
    type: str
    size: int
    html: Markup  # highlighted (empty for binary data, or when nothing fits the budget)
    binary: bool
    shown: int  # bytes of the source in `html` (the first ones, cut at a line end)

    @property
    def hidden(self) -> int:
        """Bytes of text past the budget, not on the page."""
        return 0 if self.binary else self.size - self.shown


def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass=CSS_CLASS, linenos="table", style=STYLE, wrapcode=True)


def stylesheet() -> str:
    """The CSS rules for highlighted code (served after the dashboard's own stylesheet)."""
    return _formatter().get_style_defs(f".{CSS_CLASS}")


def _prefix_length(source: bytes, limit: int) -> int:
    """How much of `source` to show within `limit` bytes: up to its last line end that
    fits, else (a long first line, minified code) up to the last whole UTF-8 character
    that fits, if that is worth showing."""
    if len(source) <= limit:
        return len(source)
    line_end = source.rfind(b"\n", 0, limit)
    if line_end >= 0:
        return line_end + 1
    if limit < MIN_PARTIAL_LINE_BYTES:
        return 0
    cut = limit
    while cut > 0 and source[cut] & 0xC0 == 0x80:  # a continuation byte: inside a character
        cut -= 1
    return cut


def highlight_module(name: str, module_type: str, source: bytes, limit: int = HIGHLIGHT_BUDGET_BYTES) -> Module:
    """The module's first `limit` bytes or less, highlighted. Pygments escapes the source;
    bytes that are not UTF-8 text are not shown at all."""
    try:
        source.decode("utf-8")
    except UnicodeDecodeError:
        return Module(name, module_type, len(source), Markup(""), True, 0)
    shown = _prefix_length(source, max(0, limit))
    if shown == 0:
        return Module(name, module_type, len(source), Markup(""), False, 0)
    lexer = _LEXERS.get(module_type, TextLexer)(stripnl=False, ensurenl=True)
    html = highlight(source[:shown].decode("utf-8"), lexer, _formatter())
    return Module(name, module_type, len(source), Markup(html), False, shown)


class _RenderCache:
    """Least recently used rendered modules, within CACHE_CHARS of HTML (thread-safe)."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self._items: OrderedDict[tuple[str, str, str, int], Module] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str, int]) -> Module | None:
        with self._lock:
            module = self._items.get(key)
            if module is not None:
                self._items.move_to_end(key)
            return module

    def put(self, key: tuple[str, str, str, int], module: Module) -> None:
        if len(module.html) > self.max_chars:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = module
            self._chars += len(module.html)
            while self._chars > self.max_chars:
                _, evicted = self._items.popitem(last=False)
                self._chars -= len(evicted.html)

    def __len__(self) -> int:
        return len(self._items)


cache = _RenderCache(CACHE_CHARS)


def render_version(version_id: str, modules: list[tuple[str, str, bytes]], budget: int = HIGHLIGHT_BUDGET_BYTES) -> list[Module]:
    """A version's modules (name, type, source), highlighted within `budget` bytes in all;
    blocking (see `render_version_async`)."""
    remaining = budget
    rendered = []
    for name, module_type, source in modules:
        key = (version_id, name, module_type, min(len(source), remaining))
        module = cache.get(key)
        if module is None:
            module = highlight_module(name, module_type, source, remaining)
            cache.put(key, module)
        remaining -= module.shown
        rendered.append(module)
    return rendered


_renders = asyncio.Semaphore(CONCURRENT_RENDERS)


async def render_version_async(version_id: str, modules: list[tuple[str, str, bytes]]) -> list[Module]:
    """`render_version` in a worker thread, so the server keeps answering meanwhile."""
    async with _renders:
        return await asyncio.to_thread(render_version, version_id, modules)
