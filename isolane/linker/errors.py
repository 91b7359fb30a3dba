"""Why an upload could not be linked: always the tenant's to fix, so always a 400."""

from __future__ import annotations

from isolane.errors import BadRequest


class LinkError(BadRequest):
    """A 400 naming the module (and line and column, when known) at fault."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        module: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        details = {k: v for k, v in {"module": module, "line": line, "column": column}.items() if v is not None}
        super().__init__(message, code=code, **details)
        self.module = module
        self.line = line
        self.column = column
