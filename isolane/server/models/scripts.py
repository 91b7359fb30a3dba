"""Scripts, their immutable versions and their deployments."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, RootModel

from isolane.platform.deployments import MAX_VERSIONS
from isolane.platform.uploads import MAX_TAG_LENGTH, MAX_TAGS, TAG
from isolane.server.models.common import Closed, Timestamp


class ModuleInfo(Closed):
    name: str
    type: str = Field(description="esm, commonjs, text, data, json...")
    size: int


class BindingInfo(Closed):
    name: str
    type: str


class Described(Closed):
    """What a version's metadata says about it (never secrets' values)."""

    main_module: str | None
    modules: list[ModuleInfo]
    bindings: list[BindingInfo]
    limits: dict[str, Any]
    compatibility_date: str | None
    compatibility_flags: list[str]
    startup_time_ms: float | None


class ScriptSummary(Closed):
    namespace: str
    name: str
    version_id: str = Field(description="The version that serves its traffic (the main one of a split)")
    format: str = Field(description="module or service-worker")
    handlers: list[str]
    tags: list[str]
    size: int
    created_at: Timestamp
    modified_at: Timestamp


class Script(ScriptSummary, Described):
    pass


class UploadedScript(Closed):
    namespace: str
    name: str
    version_id: str
    handlers: list[str]
    created_at: Timestamp
    startup_time_ms: float | None


class ScriptDeleted(Closed):
    namespace: str
    name: str
    deleted: bool


Tag = Annotated[str, Field(pattern=f"^{TAG.pattern}$", description=f"1-{MAX_TAG_LENGTH} characters, no commas, not starting with a space")]


class TagList(RootModel[list[Tag]]):
    """`PUT .../tags`: the script's tags, replacing its old ones."""

    root: list[Tag] = Field(max_length=MAX_TAGS, examples=[["customer-42", "staging"]])


class Version(Described):
    id: str
    created_at: Timestamp
    format: str
    size: int
    handlers: list[str]
    tags: list[str]
    percentage: float | None = Field(description="Its share of the current deployment's traffic; null when not deployed")


class VersionShare(Closed):
    version_id: str = Field(min_length=1, max_length=64)
    percentage: float = Field(gt=0, le=100)


class DeploymentRequest(Closed):
    """Deploy one version at 100% (e.g. a rollback) or several splitting the traffic."""

    versions: list[VersionShare] = Field(min_length=1, max_length=MAX_VERSIONS, description="Percentages total 100")


class Deployment(Closed):
    id: str
    created_at: Timestamp
    versions: list[VersionShare]
    current: bool
