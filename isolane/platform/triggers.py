"""A script's cron triggers as the API and uploads give them, and storing them.

(Kept apart from platform/schedules.py, which runs them, so uploads can use it.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from isolane.errors import BadRequest
from isolane.platform.cron import CronError, parse
from isolane.store.schema import schedules

MAX_SCHEDULES = 10  # per script (Cloudflare allows 3 on its free plan, 5 on paid plans)


def parse_crons(value: Any) -> list[str]:
    """The crons of a `triggers.crons` list or a schedules body: strings, or Cloudflare's
    `[{"cron": "..."}]`. Normalized (single spaces), unique, in the order given; 400 if any is
    invalid."""
    if not isinstance(value, list):
        raise BadRequest('crons must be a list of cron expressions (or of {"cron": "..."})', code="invalid_cron")
    crons: list[str] = []
    for item in value:
        text = item.get("cron") if isinstance(item, dict) else item
        if not isinstance(text, str):
            raise BadRequest('each cron must be a string (or {"cron": "..."})', code="invalid_cron")
        try:
            cron = parse(text).expression
        except CronError as exc:
            raise BadRequest(f"invalid cron expression {text[:100]!r}: {exc}", code="invalid_cron", cron=text[:100]) from None
        if cron not in crons:
            crons.append(cron)
    if len(crons) > MAX_SCHEDULES:
        raise BadRequest(f"a script may have at most {MAX_SCHEDULES} cron triggers", code="too_many_schedules", limit=MAX_SCHEDULES)
    return crons


def parse_schedules_body(body: Any) -> list[str]:
    """`PUT .../schedules`: `{"crons": [...]}`, or Cloudflare's bare `[{"cron": "..."}]`."""
    if isinstance(body, dict) and "crons" in body:
        return parse_crons(body["crons"])
    if isinstance(body, list):
        return parse_crons(body)
    raise BadRequest('send {"crons": ["*/5 * * * *", ...]} or [{"cron": "*/5 * * * *"}, ...]', code="invalid_cron")


async def replace(conn: AsyncConnection, namespace: str, script: str, crons: list[str], now: int) -> None:
    """Make the script's schedules `crons` (rows that stay keep their creation time)."""
    rows = await conn.execute(select(schedules.c.cron).where(schedules.c.namespace == namespace, schedules.c.script == script))
    existing = {row.cron for row in rows}
    gone = existing - set(crons)
    if gone:
        await conn.execute(
            delete(schedules).where(schedules.c.namespace == namespace, schedules.c.script == script, schedules.c.cron.in_(gone))
        )
    new = [cron for cron in crons if cron not in existing]
    if new:
        await conn.execute(insert(schedules), [{"namespace": namespace, "script": script, "cron": c, "created_at": now} for c in new])
