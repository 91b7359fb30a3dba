"""What runs inside the isolate: the JavaScript prelude, one file per Web API."""

from __future__ import annotations

from functools import cache
from importlib import resources

RUNTIME_SOURCE_URL = "isolane-runtime.js"


@cache
def prelude_source() -> str:
    """The prelude as one classic script: every file of `prelude/`, in name order, sharing
    one private scope, so that only what a file puts on `globalThis` is visible to scripts."""
    files = sorted(
        (entry for entry in resources.files(__package__).joinpath("prelude").iterdir() if entry.name.endswith(".js")),
        key=lambda entry: entry.name,
    )
    body = "\n".join(f"// ---- {entry.name}\n{entry.read_text(encoding='utf-8')}" for entry in files)
    return f'(function () {{\n"use strict";\n{body}\n}})();\n//# sourceURL={RUNTIME_SOURCE_URL}\n'
