"""Python client for Isolane's management API.

    from isolane.client import Client

    with Client("http://127.0.0.1:8787", token="...") as isolane:
        isolane.create_namespace("acme")
        isolane.upload_script("acme", "hello", "export default { fetch: () => new Response('hi') }")
        print(isolane.invoke("acme", "hello").text)

`AsyncClient` has the same methods, awaited. Failed calls raise `IsolaneError` subclasses.
"""

from isolane.client._async import AsyncClient
from isolane.client._calls import UNSET
from isolane.client._errors import (
    AuthenticationError,
    BadRequest,
    Conflict,
    ConnectError,
    IsolaneError,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    platform_error,
)
from isolane.client._models import (
    BindingInfo,
    CreatedToken,
    Deployment,
    DeploymentVersion,
    ErrorInfo,
    ExecuteResult,
    HourUsage,
    InvocationRecord,
    KVKey,
    KVNamespace,
    LogEntry,
    Module,
    ModuleInfo,
    Namespace,
    Page,
    Schedule,
    ScheduleTestResult,
    Script,
    ScriptContent,
    ScriptSummary,
    ScriptUsage,
    Secret,
    SecretChange,
    TailConnected,
    TailDropped,
    TailEvent,
    Token,
    UploadResult,
    Usage,
    UsageFigures,
    Version,
)
from isolane.client._sync import Client
from isolane.client._uploads import MODULE_JS, SERVICE_WORKER_JS, content_type_for, module_from_path

__all__ = [
    "UNSET",
    "AsyncClient",
    "AuthenticationError",
    "BadRequest",
    "BindingInfo",
    "Client",
    "Conflict",
    "ConnectError",
    "CreatedToken",
    "Deployment",
    "DeploymentVersion",
    "ErrorInfo",
    "ExecuteResult",
    "HourUsage",
    "InvocationRecord",
    "IsolaneError",
    "KVKey",
    "KVNamespace",
    "LogEntry",
    "Module",
    "ModuleInfo",
    "Namespace",
    "NotFound",
    "Page",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Schedule",
    "ScheduleTestResult",
    "Script",
    "ScriptContent",
    "ScriptSummary",
    "ScriptUsage",
    "Secret",
    "SecretChange",
    "ServerError",
    "TailConnected",
    "TailDropped",
    "TailEvent",
    "Token",
    "TransportError",
    "UploadResult",
    "Usage",
    "UsageFigures",
    "Version",
    "content_type_for",
    "MODULE_JS",
    "SERVICE_WORKER_JS",
    "module_from_path",
    "platform_error",
]
