"""Exit codes, and error messages that say what to do next."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from isolane.cli.session import Session
    from isolane.client import IsolaneError


class Exit(IntEnum):
    OK = 0
    API_ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    SERVER = 5
    SCRIPT_FAILED = 6
    ABORTED = 7
    INTERRUPTED = 130


EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 the API refused the request (bad input, conflict, quota, rate limit);"
    " 2 usage error (bad arguments, bad config file); 3 authentication or permission (401, 403);"
    " 4 not found (404); 5 server unreachable, failing (5xx) or ending a stream;"
    " 6 the invoked script failed (threw, exceeded a limit, canceled); 7 aborted at a confirmation;"
    " 130 interrupted."
)


class UsageError(Exception):
    """Bad arguments found by a command itself (exit 2)."""


def script_failed(error: IsolaneError) -> bool:
    """An invocation's error that reports the script's failed run (it carries the outcome)."""
    return "outcome" in error.details and "invocation_id" in error.details


def exit_code(error: IsolaneError) -> Exit:
    from isolane.client import AuthenticationError, NotFound, PermissionDenied, ServerError, TransportError

    if script_failed(error):
        return Exit.SCRIPT_FAILED
    if error.code == "quota_exceeded":  # a 403, but a refusal of the request, not of the token
        return Exit.API_ERROR
    if isinstance(error, AuthenticationError | PermissionDenied):
        return Exit.AUTH
    if isinstance(error, NotFound):
        return Exit.NOT_FOUND
    if isinstance(error, ServerError | TransportError):
        return Exit.SERVER
    return Exit.API_ERROR


_HINTS_BY_CODE = {
    "read_only_token": "this token is read-only: use one created without --read-only",
    "scope_not_allowed": "a namespace token can only create tokens for its own namespace",
    "quota_exceeded": "the namespace is at a quota: delete something, or ask an admin to raise it",
    "namespace_not_found": "`isolane ls` lists the namespaces you can see; an admin creates one with `isolane ns create NS`",
    "script_not_found": "`isolane ls NS` lists the namespace's scripts",
    "version_not_found": "`isolane versions NS/NAME` lists the script's versions",
    "kv_namespace_not_found": "`isolane kv namespace list` lists the KV namespaces you can see",
    "key_not_found": "`isolane kv key list ID` lists the keys",
    "token_not_found": "`isolane token list` lists the tokens you can see",
    "invocation_not_found": "records are kept for a while only (see --records-max-age-days on the server)",
    "secrets_changed": "add --force to deploy it anyway (its secrets are the ones it was made with)",
    "no_previous_version": "pass the VERSION_ID to deploy (see `isolane versions NS/NAME`)",
    "no_fetch_handler": "the script has no fetch handler: export default { fetch(request, env, ctx) { ... } }",
    "syntax_error": "fix the code at the line and column given, then deploy again",
    "admin_required": "this needs an admin token (`isolane token create NAME --scope admin`, with an admin token)",
    "stream_closed": "the server stopped or restarted: run the command again once it is back",
}


def hint(error: IsolaneError, session: Session) -> str | None:
    from isolane.client import AuthenticationError, PermissionDenied, RateLimited, ServerError, TransportError

    if error.code in _HINTS_BY_CODE:
        return _HINTS_BY_CODE[error.code]
    if isinstance(error, AuthenticationError):
        if session.token is None:
            return f"no token: pass --token, set ISOLANE_TOKEN, or put `token = \"...\"` in {session.config_path}"
        return f"the server refused the token from {session.token_source}: check it, or create one with `isolane token create`"
    if isinstance(error, PermissionDenied):
        return "the token's scope does not cover this: use an admin token, or one for this namespace"
    if isinstance(error, RateLimited):
        return f"the namespace's request rate is spent: try again in {error.retry_after or 1:g} s"
    if isinstance(error, TransportError):
        from isolane.client._config import redact_url

        return (
            f"is the server running at {redact_url(session.url)} (from {session.url_source})? Start one with `isolane serve`,"
            " or point --url / ISOLANE_URL at it"
        )
    if isinstance(error, ServerError):
        return "the server failed: its log says why"
    return None
