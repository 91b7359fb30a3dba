"""A project on disk, as wrangler reads it: its entry module (from `wrangler.toml`,
`wrangler.jsonc` or `wrangler.json`, else the usual `src/index.*` / `index.*`), its name,
and the modules the entry reaches through relative imports."""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from isolane.cli.errors import UsageError

ENTRY_CANDIDATES = ("src/index.ts", "src/index.js", "src/index.mjs", "src/worker.ts", "src/worker.js", "index.ts", "index.js", "index.mjs", "worker.ts", "worker.js")
SUFFIXES = (".ts", ".tsx", ".mts", ".js", ".mjs", ".jsx", ".cjs")
# Relative specifiers of static imports, re-exports and dynamic imports.
SPECIFIER = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["'](\.{1,2}/[^"']+)["']""")


@dataclass(frozen=True)
class Project:
    root: Path
    entry: Path
    name: str | None  # from the wrangler config


def open_project(directory: Path) -> Project:
    """The project in `directory`: its config's `main` and `name`, or a usual entry file."""
    root = directory.resolve()
    config = _wrangler_config(root)
    main = config.get("main")
    if main is not None:
        entry = (root / str(main)).resolve()
        if not entry.is_file():
            raise UsageError(f"the wrangler config's main {main!r} is not a file under {root}")
    else:
        found = [root / candidate for candidate in ENTRY_CANDIDATES if (root / candidate).is_file()]
        if not found:
            raise UsageError(
                f"{directory} has no wrangler.toml or wrangler.jsonc naming its `main`, nor any of "
                f"{', '.join(ENTRY_CANDIDATES)}: pass the main module's file instead"
            )
        entry = found[0]
    name = config.get("name")
    return Project(root, entry, str(name) if isinstance(name, str) else None)


def reachable_modules(entry: Path, root: Path) -> list[Path]:
    """`entry` and every module it reaches through relative imports, entry first; each must
    lie under `root` (modules are named relative to it)."""
    seen = [entry.resolve()]
    queue = deque(seen)
    while queue:
        module = queue.popleft()
        if module.suffix not in SUFFIXES:
            continue  # a text or data module: it imports nothing
        for specifier in SPECIFIER.findall(module.read_text(errors="replace")):
            target = _resolve(module.parent, specifier)
            if target is None:
                continue  # the upload's link step names what is missing
            if not target.is_relative_to(root):
                raise UsageError(f"{module.relative_to(root)} imports {specifier!r}, outside {root} (modules are named relative to it)")
            if target not in seen:
                seen.append(target)
                queue.append(target)
    return seen


def _resolve(directory: Path, specifier: str) -> Path | None:
    base = (directory / specifier).resolve()
    candidates = [base] + [base.with_name(base.name + suffix) for suffix in SUFFIXES] + [base / f"index{suffix}" for suffix in SUFFIXES]
    return next((candidate for candidate in candidates if candidate.is_file()), None)


def _wrangler_config(root: Path) -> dict[str, object]:
    toml = root / "wrangler.toml"
    if toml.is_file():
        try:
            return tomllib.loads(toml.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{toml}: {exc}") from None
    for name in ("wrangler.jsonc", "wrangler.json"):
        path = root / name
        if path.is_file():
            try:
                value = json.loads(_without_comments(path.read_text()))
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}: {exc}") from None
            if not isinstance(value, dict):
                raise UsageError(f"{path}: not a JSON object")
            return value
    return {}


def _without_comments(text: str) -> str:
    """JSONC: `//` and `/* */` comments and trailing commas removed, strings left alone."""
    out, i, n = [], 0, len(text)
    while i < n:
        char = text[i]
        if char == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            i = text.find("\n", i) if "\n" in text[i:] else n
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(char)
            i += 1
    return re.sub(r",(\s*[}\]])", r"\1", "".join(out))
