"""The link step: a Workers upload (ES modules, TypeScript, text/data/JSON modules) becomes
one classic script that the runtime can evaluate (mini-racer runs no ES modules).

    check names and imports (tree-sitter)  ->  bundle in a private directory (bun)
      ->  verify the bundle read only the upload  ->  LinkedScript + source map

Only literal relative imports between the modules of one upload resolve; everything else is
refused before the bundler reads a byte (ENGINE.md, "The link step"; imports.py). The server
runs all of it in link worker processes (pool.py, worker.py): never on its event loop.
"""

from isolane.linker.errors import LinkError
from isolane.linker.link import LinkedScript, link
from isolane.linker.modules import Module, ModuleType
from isolane.linker.sourcemap import SourceMap

__all__ = ["LinkError", "LinkedScript", "Module", "ModuleType", "SourceMap", "link"]
