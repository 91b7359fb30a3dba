"""Names of namespaces and scripts are DNS labels."""

from __future__ import annotations

import re

from isolane.errors import BadRequest

DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def validate_name(name: str, what: str) -> str:
    if not DNS_LABEL.fullmatch(name):
        raise BadRequest(
            f"invalid {what} name {name[:80]!r}: use 1-63 lowercase letters, digits and hyphens, "
            "starting and ending with a letter or digit",
            code=f"invalid_{what}_name",
        )
    return name
