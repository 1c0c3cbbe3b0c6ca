"""Twilio-style errors.

Every failure a client can see is one of these classes. Each carries its HTTP status
and Twilio error code; :func:`to_wire` is the single place that turns one into the
response body Twilio's clients parse (``code``, ``message``, ``more_info``, ``status``).
There is deliberately no ``type`` field: twilio-python would read a body with
``type``/``title``/``status``/``code`` as RFC 9457 and lose the message.
"""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


class TwilioError(Exception):
    """Base of every error sent to clients; subclasses fix ``status`` and ``code``."""

    status: int = 400
    code: int = 20001
    headers: dict[str, str] = {}

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of this error, exactly as Twilio sends it."""
        return {
            "code": self.code,
            "message": self.message,
            "more_info": MORE_INFO.format(code=self.code),
            "status": self.status,
        }


class InvalidParameter(TwilioError):
    """A parameter is malformed, out of range or not one of the allowed values."""

    status, code = 400, 20001


class MissingParameter(InvalidParameter):
    """A required parameter was not sent."""

    def __init__(self, name: str, where: str = "post body") -> None:
        super().__init__(f"Missing required parameter {name} in the {where}")


class InvalidPageToken(InvalidParameter):
    """A PageToken that this server did not mint for this list and account."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid PageToken: {reason}")


class Unauthorized(TwilioError):
    """No credentials, or credentials that match no account or API key."""

    status, code = 401, 20003
    headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'}

    def __init__(self, message: str = "Authenticate") -> None:
        super().__init__(message)


class NotFound(TwilioError):
    """An unknown route, an unknown Sid or a Sid of another account."""

    status, code = 404, 20404

    def __init__(self, path: str) -> None:
        # Twilio names the resource without the version prefix: /Channels/CH...
        shown = path[3:] if path[:2] == "/v" and path[2:3].isdigit() and path[3:4] == "/" else path
        super().__init__(f"The requested resource {shown} was not found")


class MethodNotAllowed(TwilioError):
    """The route exists but does not have this HTTP method."""

    status, code = 405, 20004

    def __init__(self, allowed: tuple[str, ...]) -> None:
        super().__init__("Method not allowed")
        self.headers = {"Allow": ", ".join(allowed)}


class FlexFlowNotFound(TwilioError):
    """A channel create names a Flex Flow that the account does not have."""

    status, code = 400, 45205

    def __init__(self, sid: str) -> None:
        super().__init__(f"Requested Flex Flow {sid} is not found")


class FlexFlowDisabled(TwilioError):
    """A channel create names a Flex Flow whose ``enabled`` is false."""

    status, code = 400, 45205

    def __init__(self, sid: str) -> None:
        super().__init__(f"Requested Flex Flow {sid} is disabled")


class ChatUniqueNameTaken(TwilioError):
    """ChatUniqueName is already used by a channel of the same chat service."""

    status, code = 409, 45208

    def __init__(self, name: str) -> None:
        super().__init__(f"Chat Channel with this unique name already exists: {name}")


class ChatUniqueNameConflict(TwilioError):
    """A Chat v2 channel's UniqueName is already used in its service."""

    status, code = 409, 50307

    def __init__(self, name: str) -> None:
        super().__init__(f"Channel with provided unique name already exists: {name}")


class ChatUserExists(TwilioError):
    """A Chat v2 user's Identity is already used in its service."""

    status, code = 409, 50201

    def __init__(self, identity: str) -> None:
        super().__init__(f"User with provided identity already exists: {identity}")


class ChatMemberExists(TwilioError):
    """The Identity is already a member of the channel."""

    status, code = 409, 50404

    def __init__(self, identity: str) -> None:
        super().__init__(f"Member already exists: {identity}")


class PayloadTooLarge(TwilioError):
    """The request body is larger than the configured limit."""

    status, code = 413, 20413

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds the limit of {limit} bytes")


class UnsupportedMediaType(TwilioError):
    """A body that is not form-encoded."""

    status, code = 415, 20415

    def __init__(self, content_type: str, expected: str = "application/x-www-form-urlencoded") -> None:
        super().__init__(f"Unsupported Content-Type {content_type!r}: send {expected}")


class ServiceUnavailable(TwilioError):
    """The database cannot be reached right now; the client may retry."""

    status, code = 503, 20503
    headers = {"Retry-After": "1"}

    def __init__(self, message: str = "Service unavailable: the database cannot be reached") -> None:
        super().__init__(message)


class InternalError(TwilioError):
    """A bug: reported as a Twilio error body, never as a stack trace."""

    status, code = 500, 20500

    def __init__(self) -> None:
        super().__init__("Internal server error")


class NotReady(ServiceUnavailable):
    """``/readyz``: a readiness check failed; the body names each check and its result."""

    def __init__(self, checks: dict[str, str]) -> None:
        failed = ", ".join(name for name, result in checks.items() if result != "ok")
        super().__init__(f"Service unavailable: not ready ({failed})")
        self.checks = checks

    def to_wire(self) -> dict[str, Any]:
        return {**super().to_wire(), "checks": self.checks}


class TooManyRequests(TwilioError):
    """Twilio's answer to too many concurrent requests: from limits.py when an account
    (or the process) has too many in flight, answered at once and never queued, with
    ``Retry-After``; or when a fault asks for it."""

    status, code = 429, 20429

    def __init__(
        self, concurrent_requests: int, message: str = "Too Many Requests", retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        # Seconds the app waits before it answers (limits.py: a client that keeps asking).
        self.delay = 0.0
        # Twilio's 429s carry how many requests the account had in flight.
        self.headers = {"Twilio-Concurrent-Requests": str(concurrent_requests)}
        if retry_after is not None:
            self.headers["Retry-After"] = retry_after


class CredentialNotPermitted(Unauthorized):
    """A standard API key on an endpoint that needs the account's token or a main key
    (managing keys and tokens). Twilio answers this as 401 / 20003 too (its support
    article "Error 20003 ... When Using Restricted API Keys"), not as a 403."""

    def __init__(self) -> None:
        super().__init__("Authentication Error - invalid username")


class InjectedInternalError(InternalError):
    """A 500/20500 that a fault asked for (the error-rate fault with ErrorStatus=500)."""


class InjectedUnavailable(ServiceUnavailable):
    """A 503/20503 that a fault asked for (the error-rate fault with ErrorStatus=503)."""

    def __init__(self) -> None:
        super().__init__("Service unavailable")


class UnknownFaultFamily(NotFound):
    """``/flexchat/v1/Faults/{Family}`` with a family flexchat does not have."""

    def __init__(self, family: str, families: tuple[str, ...]) -> None:
        TwilioError.__init__(self, f"Unknown fault family {family!r}: use one of {', '.join(families)}")


class TaskMoveRefused(InvalidParameter):
    """A task update asks for an assignment status TaskRouter does not allow from the
    current one (TaskRouter answers such moves with a 400, code 20001)."""


class TaskVersionMismatch(TwilioError):
    """``If-Match`` names another version of the task than the current one."""

    status, code = 412, 20001

    def __init__(self, sid: str, version: int) -> None:
        super().__init__(f"The ETag in If-Match does not match Task {sid}'s current version {version}")
