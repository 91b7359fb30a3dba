"""Find every module request in a module (tree-sitter), resolve it inside the upload, or
refuse it.

This runs before any bundler sees the upload, and reads nothing but the upload: whether a
request is refused, and how, depends on the upload alone, never on the host's files (no
oracle). Only relative specifiers that name a module of the same upload are accepted.

What counts as a module request is what Bun's bundler resolves, and Bun folds constants
before it resolves. Checked with Bun 1.4.2, each of these read /etc/hostname into a bundle:
- `import ... from "x"`, `import "x"`, `export ... from "x"` (Bun takes template literals
  there too, which is no JavaScript: tree-sitter reports them as syntax errors, see below);
  TypeScript's `import x = require("x")` and `export import x = require("x")`;
- calls of `import`, `require`, `require.resolve`, `module.require`, also behind
  parentheses, conditionals, `?.`, TypeScript's `!` and `as`, escapes
  (`(1 ? require : f)("/etc/x")`, `(require as any)("/etc/x")`, `requ\\u0069re(...)`);
- specifiers folded from an expression: `import("/etc/" + "x")`, `` import(`/etc/${"x"}`) ``,
  `import(true ? "/etc/x" : "y")`.
Some forms this Bun left alone are checked all the same, as a later Bun (or another target)
may resolve them: `import.meta.require`/`resolve`, `(0, require)(...)`, `new require(...)`,
tagged templates (`` require`x` ``). The specifier of every
request must be a string literal, or a template literal without substitutions: a computed
one is refused even where Bun would leave it alone (`import(name)` could never load
anything at run time anyway: the isolate has no module loader).

A module that tree-sitter cannot parse is refused too (`UnreadableSyntax`): syntax the
checker cannot read could hide a request the bundler would resolve. `link.py` then asks
Bun's transpiler, which resolves nothing, for the syntax error to report.

The scan looks only where a request can be: at each occurrence of `import`, `require`,
`module`, `from` or an escape (`\\u`) in the source, it takes the syntax node there. Every
request contains one of those, so none is missed, and the cost follows the number of
occurrences, not the size of the tree (a full walk of a 10 MB module took 5-10 s of Python).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from functools import cache

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Tree

from isolane.linker.errors import LinkError
from isolane.linker.modules import CODE_EXTENSIONS, Module, ModuleType

# Import attributes we pass on; anything else (Bun's `type: "macro"` runs code inside the
# bundler!) is refused.
ALLOWED_ATTRIBUTE_TYPES = frozenset({"json", "text"})

_TRIGGER = re.compile(rb"import|require|module|from|\\u")
_STATEMENTS = frozenset({"import_statement", "export_statement"})
_CALLS = frozenset({"call_expression", "new_expression"})
# Expressions a callee can hide behind and still be `require` (or `import.meta...`) to a
# bundler that folds constants.
_WRAPPERS = frozenset(
    {
        "parenthesized_expression",
        "sequence_expression",
        "ternary_expression",
        "binary_expression",
        "non_null_expression",
        "as_expression",
        "satisfies_expression",
        "type_assertion",
    }
)
_MEMBERS = frozenset({"member_expression", "subscript_expression"})
# Nodes whose text is no code: comments, and the text of strings, templates and regexes.
_INERT = frozenset({"comment", "string_fragment", "regex_pattern", "jsx_text", "html_comment"})
_ESCAPE = re.compile(r"\\u(?:\{([0-9A-Fa-f]+)\}|([0-9A-Fa-f]{4}))")
COMPUTED = (
    "the module specifier must be a string literal naming a module of this upload:"
    " computed specifiers (variables, concatenation, template substitutions) are refused"
)


@dataclass(frozen=True, slots=True)
class ImportSite:
    specifier: str
    start: int  # byte offsets of the string literal, quotes included
    end: int
    line: int  # 1-based
    column: int  # 1-based


class UnreadableSyntax(Exception):
    """tree-sitter found a syntax error (or syntax it does not know) at `line`:`column`."""

    def __init__(self, module: str, line: int, column: int) -> None:
        super().__init__(f"{module}:{line}:{column}")
        self.module = module
        self.line = line
        self.column = column


@cache
def _parser(module_type: ModuleType) -> Parser:
    if module_type is ModuleType.TYPESCRIPT:
        return Parser(Language(tree_sitter_typescript.language_typescript()))
    return Parser(Language(tree_sitter_javascript.language()))


def find_imports(module: Module) -> list[ImportSite]:
    """Every module request of a code module, each a literal specifier (not yet resolved).
    Raises LinkError for a request it refuses whatever the upload holds, UnreadableSyntax
    for a module it cannot parse."""
    source = module.content
    tree = _parser(module.type).parse(source)
    if tree.root_node.has_error:
        line, column = _first_error(tree).start_point
        raise UnreadableSyntax(module.name, line + 1, column + 1)
    root = tree.root_node
    seen: set[tuple[int, int, str]] = set()
    sites: list[ImportSite] = []
    inert_until = 0  # the end of the last comment or literal text found: no request inside
    for found in _TRIGGER.finditer(source):
        if found.start() < inert_until:
            continue
        node = root.descendant_for_byte_range(found.start(), found.end())
        if node is None:
            continue
        if node.type in _INERT:
            inert_until = node.end_byte
            continue
        request = _request_at(node)
        if request is None:
            continue
        key = (request.start_byte, request.end_byte, request.type)
        if key in seen:
            continue
        seen.add(key)
        if request.type in _STATEMENTS:
            sites.extend(_statement_sites(request, module))
        else:
            sites.extend(_call_sites(request, module))
    return sites


def _first_error(tree: Tree) -> Node:
    node = tree.root_node
    while True:
        for child in node.children:
            if child.is_error or child.is_missing:
                return child
            if child.has_error:
                node = child
                break
        else:
            return node


def _request_at(node: Node) -> Node | None:
    """The import/export statement or the call whose request `node` (an occurrence of a
    trigger word) belongs to, if any."""
    parent = node.parent
    # The keyword of import("...") is an anonymous token inside a named `import` node.
    while parent is not None and parent.type == node.type and parent.byte_range == node.byte_range:
        node, parent = parent, parent.parent
    if parent is None:
        return None
    kind = node.type
    if parent.type in _STATEMENTS and kind in ("import", "from"):
        return parent
    if parent.type == "import_require_clause":  # TypeScript: import x = require("...")
        return parent.parent
    if kind == "import" and parent.type in _CALLS:  # import("...")
        return parent
    if kind == "import" and parent.type == "meta_property":  # import.meta.require("...")
        return _callee_of(parent, "import.meta")
    if kind == "identifier":
        name = identifier_name(node)
        if name in ("require", "import"):
            return _callee_of(node, "require")
        if name == "module":
            return _callee_of(node, "module")
    return None


def _callee_of(node: Node, root: str) -> Node | None:
    """The call or `new` whose callee `node` is (or is part of), climbing through wrappers
    and member accesses: `require.resolve`, `module.require`, `(0, require)`..."""
    current = node
    members = 0
    while (parent := current.parent) is not None:
        kind = parent.type
        if kind in _CALLS:
            callee = parent.child_by_field_name("function") or parent.child_by_field_name("constructor")
            return parent if callee is not None and callee.id == current.id else None
        if kind in _MEMBERS:
            target = parent.child_by_field_name("object")
            if target is None or target.id != current.id:
                return None  # `x[require]`, `x.require`: not the bundler's require
            if root == "module" and members == 0 and not _names_require(parent):
                return None  # module.exports.f(...), module.id...
            members += 1
        elif kind not in _WRAPPERS:
            return None
        current = parent
    return None


def _names_require(member: Node) -> bool:
    """Whether `module.<property>` / `module[<index>]` may be `module.require`."""
    if member.type == "member_expression":
        prop = member.child_by_field_name("property")
        return prop is not None and identifier_name(prop) == "require"
    index = member.child_by_field_name("index")
    if index is not None and index.type == "string":
        return index.text[1:-1] == b"require"
    return True  # a computed index could be anything


def identifier_name(node: Node) -> str:
    """An identifier's name with its escapes decoded (`\\u0069` is `i`)."""
    text = node.text.decode("utf-8", "replace")
    if "\\" not in text:
        return text

    def decode(found: re.Match[str]) -> str:
        code = int(found[1] or found[2], 16)
        return chr(code) if code <= 0x10FFFF else "\ufffd"

    return _ESCAPE.sub(decode, text)


def _statement_sites(node: Node, module: Module) -> list[ImportSite]:
    _check_attributes(node, module)
    source = node.child_by_field_name("source")
    if source is None:
        clause = next((c for c in node.children if c.type == "import_require_clause"), None)
        if clause is not None:
            source = clause.child_by_field_name("source") or next((c for c in clause.children if c.type == "string"), None)
    if source is None:
        return []  # export default ..., export const ..., TypeScript's import x = A.B
    return [_literal_site(source, module)]


def _call_sites(node: Node, module: Module) -> list[ImportSite]:
    arguments = node.child_by_field_name("arguments")
    if arguments is None:
        return []  # `new require` without arguments
    if arguments.type == "template_string":  # a tagged template: require`x`
        return [_literal_site(arguments, module)]
    values = [child for child in arguments.named_children if child.type != "comment"]
    callee = node.child_by_field_name("function")
    if callee is not None and callee.type == "import" and len(values) > 1:
        raise _refused(node, module, "import() with options (import attributes) is not supported")
    if not values:
        return []
    return [_literal_site(values[0], module)]


def _literal_site(node: Node, module: Module) -> ImportSite:
    literal = node.type == "string" or (
        node.type == "template_string" and not any(c.type == "template_substitution" for c in node.children)
    )
    if not literal:
        raise _refused(node, module, COMPUTED)
    raw = node.text[1:-1].decode("utf-8", "replace")
    if "\\" in raw:
        raise _refused(node, module, "import specifiers with escape sequences are not supported")
    line, column = node.start_point
    return ImportSite(raw, node.start_byte, node.end_byte, line + 1, column + 1)


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
        return identifier_name(node)
    if node.type == "string" and len(text) >= 2:
        return text[1:-1]
    return None


def _refused(node: Node, module: Module, message: str, code: str = "forbidden_import") -> LinkError:
    line, column = node.start_point
    return LinkError(message, code=code, module=module.name, line=line + 1, column=column + 1)


def resolve(site: ImportSite, importer: Module, names: set[str]) -> str:
    """The uploaded module `site` names, or a LinkError saying why it cannot be imported.
    It looks at the specifier and the upload's names only, never at a file system."""
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
