"""Every way a run can fail, and the exit code each one means.

Scripts branch on the exit code, so each error class carries its own::

    DnsbridgeError                      exit 1  something failed
    ├── UsageError                      exit 2  bad input; nothing was changed
    │   ├── InvalidDomain               a name that can't be a sender domain
    │   ├── MissingCredentials          a credential variable is unset (names it, never its value)
    │   ├── UnknownProvider             --provider names no installed plugin
    │   └── ZoneNotFound                no zone the credentials see holds the domain
    ├── ApiError                        a service said no (service, action, code, request id)
    │   ├── AuthError                   the credentials were refused (names the variable to check)
    │   ├── ThrottledError              rate limited: retried with backoff until the deadline
    │   └── TransientError              5xx, network, "try again": retried like throttling
    ├── UnexpectedAnswer                an API answered something we will not act on
    ├── ConflictError                   the zone holds data that SES's records can't live beside
    │   └── ZoneChanged                 a conditional write found the zone changed since it was read
    └── VerificationTimeout             exit 3  records in place, SES did not verify in time

A message never contains a secret: errors are built from codes, names and our own words, and the
SDK's exception text is kept only after `redact()` has scrubbed it.
"""

from __future__ import annotations

from collections.abc import Iterable


class DnsbridgeError(Exception):
    exit_code = 1
    code = "Failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(DnsbridgeError):
    exit_code = 2
    code = "BadInput"


class InvalidDomain(UsageError):
    code = "InvalidDomain"


class MissingCredentials(UsageError):
    code = "MissingCredentials"


class UnknownProvider(UsageError):
    code = "UnknownProvider"


class ZoneNotFound(UsageError):
    code = "ZoneNotFound"


class ApiError(DnsbridgeError):
    """A refusal from a service, with enough context to find it in the provider's logs."""

    retryable = False

    def __init__(
        self,
        message: str,
        *,
        service: str,
        action: str,
        code: str,
        request_id: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.service = service
        self.action = action
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.service} {self.action}: {self.code}"
        rid = f" [RequestId {self.request_id}]" if self.request_id else ""
        text = f"{where}: {self.message}{rid}"
        return f"{text} ({self.hint})" if self.hint else text


class AuthError(ApiError):
    pass


class ThrottledError(ApiError):
    retryable = True


class TransientError(ApiError):
    retryable = True


class UnexpectedAnswer(DnsbridgeError):
    code = "UnexpectedAnswer"


class ConflictError(DnsbridgeError):
    code = "Conflict"


class ZoneChanged(ConflictError):
    """Raised by an adapter whose writes are conditional (Route 53: DELETE only what was read,
    CREATE only what is absent) when the zone no longer holds what the plan was made from.
    Nothing was written; the flow reads the names again and plans once more."""

    code = "ZoneChanged"


class VerificationTimeout(DnsbridgeError):
    exit_code = 3
    code = "NotVerified"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Scrub secret values out of text we did not write ourselves (SDK messages, tracebacks)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
