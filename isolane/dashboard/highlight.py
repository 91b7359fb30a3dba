"""Source code as highlighted HTML (Pygments, on the server; classes styled by the CSS)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import JavascriptLexer, JsonLexer, TextLexer, TypeScriptLexer

CSS_CLASS = "code"
STYLE = "friendly"
MAX_HIGHLIGHTED_BYTES = 512 * 1024  # larger modules are shown as plain text (still escaped)
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
    html: Markup  # highlighted (empty for binary data)
    binary: bool


def _formatter() -> HtmlFormatter:
    return HtmlFormatter(cssclass=CSS_CLASS, linenos="table", style=STYLE, wrapcode=True)


def stylesheet() -> str:
    """The CSS rules for highlighted code (served after the dashboard's own stylesheet)."""
    return _formatter().get_style_defs(f".{CSS_CLASS}")


def highlight_module(name: str, module_type: str, source: bytes) -> Module:
    """Pygments escapes the source; bytes that are not UTF-8 text are not shown at all."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return Module(name, module_type, len(source), Markup(""), True)
    lexer_class = _LEXERS.get(module_type, TextLexer) if len(source) <= MAX_HIGHLIGHTED_BYTES else TextLexer
    html = highlight(text, lexer_class(stripnl=False, ensurenl=True), _formatter())
    return Module(name, module_type, len(source), Markup(html), False)
