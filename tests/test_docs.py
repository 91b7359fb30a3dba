"""The docs stay true: docs/api.md is what docs/gen_api.py renders from the live OpenAPI
document, and every relative link in README.md and docs/*.md leads somewhere."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent

# [text](target) and [text](target "title"); images too. Code spans are removed first.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
CODE_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_api", ROOT / "docs" / "gen_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def doc_pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def links(page: Path) -> list[str]:
    text = CODE_FENCE.sub("", page.read_text(encoding="utf-8"))
    return [target for line in text.splitlines() for target in LINK.findall(CODE_SPAN.sub("", line))]


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens."""
    text = CODE_FENCE.sub("", page.read_text(encoding="utf-8"))
    found = set()
    for heading in HEADING.findall(text):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        found.add(slug)
    return found


def test_api_reference_is_current() -> None:
    generator = load_generator()
    expected = generator.render(generator.build_document())
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == expected, "docs/api.md is stale: run `python docs/gen_api.py`"


def test_api_reference_covers_every_operation() -> None:
    generator = load_generator()
    document = generator.build_document()
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for path, operations in document["paths"].items():
        for method in operations:
            heading = re.compile(rf"^### `[A-Z ]*\b{method.upper()}\b[A-Z ]* {re.escape(path)}`$", re.M)
            assert heading.search(current), f"{method.upper()} {path} is missing from docs/api.md"


def test_relative_links_lead_to_files_and_headings() -> None:
    broken = []
    for page in doc_pages():
        for target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path_part, _, fragment = target.partition("#")
            destination = (page.parent / path_part).resolve() if path_part else page
            where = f"{page.relative_to(ROOT)} -> {target}"
            if not destination.exists():
                broken.append(f"{where}: no such file")
                continue
            if fragment and destination.suffix == ".md" and fragment not in anchors(destination):
                broken.append(f"{where}: no heading #{fragment}")
    assert not broken, "broken links:\n" + "\n".join(broken)



def test_operations_lists_every_serve_option() -> None:
    import typer.main

    from isolane.cli import app

    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = []
    for parameter in serve.params:
        if parameter.name == "help":
            continue
        flag = max(parameter.opts, key=len)
        if f"`{flag}`" not in page:
            missing.append(flag)
        if parameter.envvar and f"`{parameter.envvar}`" not in page:
            missing.append(parameter.envvar)
    assert not missing, f"docs/operations.md does not document: {', '.join(missing)}"
