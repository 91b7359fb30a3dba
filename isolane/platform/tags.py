"""Script tags: up to 8 labels per script (a customer's id, a project, an environment) that
let a platform list or delete its scripts in bulk.

A script's tags live in table `script_tags`; an upload with PUT whose metadata has `tags`
replaces them, and so does `PUT .../scripts/{name}/tags`. A filter is Cloudflare's
`tags` parameter: comma-separated tags, each `tag` or `tag:yes` (the script must have it)
or `tag:no` (it must not); a script matches when every item holds (AND).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.errors import BadRequest
from isolane.platform.uploads import MAX_TAGS, validate_tags
from isolane.store.schema import script_tags, scripts

MAX_FILTER_ITEMS = 2 * MAX_TAGS


@dataclass(frozen=True, slots=True)
class TagFilter:
    required: tuple[str, ...]
    excluded: tuple[str, ...]

    def conditions(self) -> list[Any]:
        """SQL conditions on `scripts` rows."""

        def tagged(tag: str) -> Any:
            return exists().where(
                and_(script_tags.c.namespace == scripts.c.namespace, script_tags.c.script == scripts.c.name, script_tags.c.tag == tag)
            )

        return [tagged(tag) for tag in self.required] + [~tagged(tag) for tag in self.excluded]


def parse_filter(value: str) -> TagFilter:
    """`a,b:yes,c:no` -> required a and b, excluded c."""
    required: list[str] = []
    excluded: list[str] = []
    items = value.split(",")
    if len(items) > MAX_FILTER_ITEMS:
        raise BadRequest(f"a tag filter has at most {MAX_FILTER_ITEMS} items", code="invalid_tag_filter")
    for item in items:
        tag, allowed = item, "yes"
        head, sep, tail = item.rpartition(":")
        if sep and tail in ("yes", "no"):
            tag, allowed = head, tail
        if not tag.strip():
            raise BadRequest(f"invalid tag filter {value[:200]!r}: use tag, tag:yes or tag:no, separated by commas", code="invalid_tag_filter")
        (required if allowed == "yes" else excluded).append(tag)
    return TagFilter(tuple(required), tuple(excluded))


def parse_tag_list(raw: Any) -> list[str]:
    """The body of `PUT .../tags`: a JSON list of strings."""
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        raise BadRequest('the body must be a JSON list of tags, e.g. ["customer-42", "staging"]', code="invalid_tags")
    return validate_tags(raw)


async def replace(conn: AsyncConnection, namespace: str, script: str, tags: Iterable[str]) -> None:
    await conn.execute(delete(script_tags).where(script_tags.c.namespace == namespace, script_tags.c.script == script))
    rows = [{"namespace": namespace, "script": script, "tag": tag} for tag in sorted(set(tags))]
    if rows:
        await conn.execute(insert(script_tags), rows)


async def tags_of(conn: AsyncConnection, namespace: str, names: Iterable[str]) -> dict[str, list[str]]:
    """Each named script's tags, sorted."""
    wanted = list(names)
    found: dict[str, list[str]] = {name: [] for name in wanted}
    if not wanted:
        return found
    rows = await conn.execute(
        select(script_tags.c.script, script_tags.c.tag)
        .where(script_tags.c.namespace == namespace, script_tags.c.script.in_(wanted))
        .order_by(script_tags.c.script, script_tags.c.tag)
    )
    for row in rows:
        found[row.script].append(row.tag)
    return found
