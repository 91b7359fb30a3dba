"""API tokens: the secret is shown once, at creation."""

from __future__ import annotations

from pydantic import Field

from isolane.platform.names import DNS_LABEL
from isolane.server.models.common import Closed, Timestamp


class TokenCreate(Closed):
    name: str = Field(min_length=1, max_length=200)
    # The pattern is documented, not enforced here: the platform answers `invalid_scope`.
    scope: str = Field(
        min_length=1,
        max_length=100,
        description="'admin' or 'namespace:{ns}'",
        json_schema_extra={"pattern": f"^(admin|namespace:{DNS_LABEL.pattern})$"},
        examples=["namespace:acme"],
    )
    read_only: bool = False


class Token(Closed):
    id: str
    name: str
    scope: str
    read_only: bool
    created_at: Timestamp


class CreatedToken(Token):
    token: str = Field(description="The secret: shown once, only its hash is stored")


class TokenDeleted(Closed):
    id: str
    deleted: bool
