"""Find every import in a module (tree-sitter), resolve it inside the upload, or refuse it.

This runs before the bundler sees anything, so that no specifier can make it read a host
file: only relative specifiers that name a module of the same upload are accepted. The
bundler's own report is checked afterwards too (see `link.py`), in case the two parsers
ever disagree about what a module imports.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from functools import cache

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser

from isolane.linker.errors import LinkError
from isolane.linker.modules import CODE_EXTENSIONS, Module, ModuleType

# Import attributes we pass on; anything else (Bun's `type: "macro"` runs code inside the
# bundler!) is refused.
ALLOWED_ATTRIBUTE_TYPES = frozenset({"json", "text"})


@dataclass(frozen=True, slots=True)
class ImportSite:
    specifier: str
    start: int  # byte offsets of the string literal, quotes included
    end: int
    line: int  # 1-based
    column: int  # 1-based


@cache
def _parser(module_type: ModuleType) -> Parser:
    if module_type is ModuleType.TYPESCRIPT:
        return Parser(Language(tree_sitter_typescript.language_typescript()))
    return Parser(Language(tree_sitter_javascript.language()))


def find_imports(module: Module) -> list[ImportSite]:
    """Every static import, re-export, literal `import()` and `require()` of a code module."""
    source = module.content
    tree = _parser(module.type).parse(source)
    sites: list[ImportSite] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        specifier_node = _specifier_of(node, module)
        if specifier_node is not None:
            sites.append(_site(specifier_node, source, module))
        stack.extend(reversed(node.children))
    return sites


def _specifier_of(node: Node, module: Module) -> Node | None:
    kind = node.type
    if kind in ("import_statement", "export_statement"):
        _check_attributes(node, module)
        for child in node.children:
            if child.type == "string":
                return child
            if child.type == "import_require_clause":  # TypeScript: import x = require("...")
                return next((c for c in child.children if c.type == "string"), None)
        return None
    if kind == "call_expression":
        function = node.child_by_field_name("function") or node.children[0]
        arguments = node.child_by_field_name("arguments")
        is_import = function.type == "import"
        is_require = function.type == "identifier" and function.text == b"require"
        if not (is_import or is_require) or arguments is None:
            return None
        values = arguments.named_children
        if is_import and len(values) > 1:
            raise _refused(node, module, "import() with options (import attributes) is not supported")
        first = values[0] if values else None
        if first is not None and first.type == "string":
            return first
        if first is not None and first.type == "template_string" and not any(
            c.type == "template_substitution" for c in first.children
        ):
            return first
    return None


def _check_attributes(node: Node, module: Module) -> None:
    for child in node.children:
        if child.type != "import_attribute":
            continue
        pairs = [c for c in child.named_children if c.type == "object"]
        entries = pairs[0].named_children if pairs else []
        ok = len(entries) == 1 and entries[0].type == "pair"
        if ok:
            key = entries[0].child_by_field_name("key")
            value = entries[0].child_by_field_name("value")
            key_text = _literal(key) if key is not None else None
            value_text = _literal(value) if value is not None else None
            ok = key_text == "type" and value_text in ALLOWED_ATTRIBUTE_TYPES
        if not ok:
            raise _refused(
                child,
                module,
                f"unsupported import attributes {child.text.decode('utf-8', 'replace')[:80]!r}: only"
                ' `with { type: "json" }` and `with { type: "text" }` are allowed',
                code="unsupported_import_attribute",
            )


def _literal(node: Node) -> str | None:
    text = node.text.decode("utf-8", "replace")
    if node.type in ("property_identifier", "identifier"):
        return text
    if node.type == "string" and len(text) >= 2:
        return text[1:-1]
    return None


def _site(node: Node, source: bytes, module: Module) -> ImportSite:
    raw = source[node.start_byte + 1 : node.end_byte - 1].decode("utf-8", "replace")
    if "\\" in raw:
        raise _refused(node, module, "import specifiers with escape sequences are not supported")
    line, column = node.start_point
    return ImportSite(raw, node.start_byte, node.end_byte, line + 1, column + 1)


def _refused(node: Node, module: Module, message: str, code: str = "forbidden_import") -> LinkError:
    line, column = node.start_point
    return LinkError(message, code=code, module=module.name, line=line + 1, column=column + 1)


def resolve(site: ImportSite, importer: Module, names: set[str]) -> str:
    """The uploaded module `site` names, or a LinkError saying why it cannot be imported."""
    specifier = site.specifier

    def refuse(message: str, code: str = "forbidden_import") -> LinkError:
        return LinkError(message, code=code, module=importer.name, line=site.line, column=site.column)

    if not specifier.startswith(("./", "../")):
        if specifier.startswith("/"):
            raise refuse(f"import of absolute path {specifier!r} refused: only modules of this upload can be imported")
        if ":" in specifier:
            raise refuse(
                f"import of {specifier!r} refused: URLs and npm:, jsr:, node:, cloudflare: imports are not available;"
                " upload the module and import it by a relative path"
            )
        raise refuse(f"import of package {specifier!r} refused: bundle dependencies into the upload and import them relatively")
    if "?" in specifier or "#" in specifier:
        raise refuse(f"import specifier {specifier!r} refused: query strings and fragments are not supported")
    target = posixpath.normpath(posixpath.join(posixpath.dirname(importer.name), specifier))
    if target == ".." or target.startswith("../") or target.startswith("/"):
        raise refuse(f"import of {specifier!r} refused: it leaves the upload")
    for candidate in (target, *(target + extension for extension in CODE_EXTENSIONS)):
        if candidate in names:
            return candidate
    raise refuse(f"import of {specifier!r} does not resolve to an uploaded module", code="unresolved_import")
