"""A script's secrets: values go in and never come back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from isolane.platform.secrets import MAX_SECRET_BYTES, SECRET_NAME, SECRET_TYPES
from isolane.server.models.common import Closed

SecretType = Literal[SECRET_TYPES]  # type: ignore[valid-type]


class SecretPut(Closed):
    name: str = Field(pattern=f"^{SECRET_NAME.pattern}$", description="Its name on env", examples=["API_KEY"])
    text: str = Field(
        json_schema_extra={"writeOnly": True}, description=f"The value: at most {MAX_SECRET_BYTES} bytes of UTF-8; never returned"
    )
    type: SecretType = SECRET_TYPES[0]


class SecretInfo(Closed):
    name: str
    type: str


class SecretSet(SecretInfo):
    version_id: str = Field(description="The deployed version that has the change")


class SecretDeleted(Closed):
    name: str
    deleted: bool
    version_id: str
