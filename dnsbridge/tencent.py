"""Calling Tencent Cloud APIs (SES, DNSPod) through the official SDK, on our terms.

What we rely on (API-FACTS.md, and the SDK's common/abstract_client.py):
- credentials come only from the variables we name; the SDK's default chain is never used,
  because it can block on the CVM metadata endpoint off Tencent infrastructure;
- the SDK's retryer is left off (NoopRetryer): its StandardRetryer misses DNSPod's
  `RequestLimitExceeded.RequestLimitExceeded`, `FailedOperation.FrequencyLimit` and SES's
  `FailedOperation.ServiceNotAvailable`, so dnsbridge.retry decides instead;
- the region circuit breaker stays disabled: when enabled, it swallows exceptions and fails
  over to another region's endpoint;
- every call has a timeout (HttpProfile.reqTimeout), so a dead endpoint can't hang a run.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dnsbridge.errors import ApiError, AuthError, MissingCredentials, ThrottledError, TransientError, UsageError
from dnsbridge.ratelimit import Limits

THROTTLING_CODES = frozenset(
    {
        "RequestLimitExceeded",
        "RequestLimitExceeded.UinLimitExceeded",
        "RequestLimitExceeded.GlobalRegionUinLimitExceeded",
        "RequestLimitExceeded.RequestLimitExceeded",  # DNSPod
        "FailedOperation.FrequencyLimit",  # DNSPod
    }
)
TRANSIENT_CODES = frozenset(
    {
        "FailedOperation.ServiceNotAvailable",  # SES: "The request has not taken effect. Try again."
        "InternalError",
        "ClientNetworkError",  # SDK: connection refused, reset, timed out
        "ServerNetworkError",  # SDK: any HTTP status other than 200 (5xx from a proxy)
        "ResourceUnavailable",
    }
)


@dataclass(frozen=True)
class Credentials:
    secret_id: str
    secret_key: str
    token: str | None
    id_variable: str
    key_variable: str

    def __repr__(self) -> str:  # never show the values, even in a debugger or a traceback
        return f"Credentials(id from ${self.id_variable}, key from ${self.key_variable})"

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret_id, self.secret_key, self.token) if s)


def credentials_from(env: Mapping[str, str], prefix: str = "TENCENTCLOUD", fallback: str | None = None) -> Credentials:
    """Credentials from `<prefix>_SECRET_ID` / `_SECRET_KEY` (+ `_SESSION_TOKEN`), else `fallback`'s."""
    id_var, key_var = f"{prefix}_SECRET_ID", f"{prefix}_SECRET_KEY"
    secret_id, secret_key = env.get(id_var, "").strip(), env.get(key_var, "").strip()
    if not secret_id and not secret_key and fallback:
        return credentials_from(env, fallback)
    missing = [v for v, value in ((id_var, secret_id), (key_var, secret_key)) if not value]
    if missing:
        raise MissingCredentials(
            f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint="export the API key pair of the account (CAM > API keys)",
        )
    token = env.get(f"{prefix}_SESSION_TOKEN", "").strip() or None
    return Credentials(secret_id, secret_key, token, id_var, key_var)


@dataclass(frozen=True)
class Endpoint:
    host: str  # host[:port], what the SDK signs as Host
    protocol: str


def endpoint_from(url: str, variable: str) -> Endpoint:
    parsed = urlparse(url if "://" in url else f"https://{url}")
    if parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path not in ("", "/"):
        raise UsageError(f"{variable}={url!r} is not an endpoint URL like https://host[:port]")
    return Endpoint(parsed.netloc, parsed.scheme)


class TencentApi:
    """One Tencent Cloud service (SES or DNSPod) in one region, called by action name."""

    def __init__(
        self,
        service: str,
        version: str,
        credentials: Credentials,
        endpoint: Endpoint,
        region: str,
        *,
        timeout: float = 15.0,
        limits: Limits | None = None,
    ) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.abstract_client import AbstractClient
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile

        self.service = service
        self.credentials = credentials
        self.limits = limits or Limits()
        http = HttpProfile(protocol=endpoint.protocol, endpoint=endpoint.host, reqTimeout=max(1, round(timeout)))
        cred = credential.Credential(credentials.secret_id, credentials.secret_key, credentials.token)

        class _Client(AbstractClient):  # type: ignore[misc]
            _apiVersion = version
            _endpoint = endpoint.host
            _service = service

        def new_client() -> Any:
            profile = ClientProfile(httpProfile=http, language="en-US", disable_region_breaker=True)
            return _Client(cred, region, profile)

        self._new_client = new_client
        # One SDK client per thread: the SDK's client keeps per-request state on itself
        # (request_length, a requests.Session) and is not documented as thread-safe.
        self._local = threading.local()

    @property
    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._new_client()
        return client

    def call(self, action: str, params: Mapping[str, Any]) -> dict[str, Any]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

        client = self._client  # made before the window is taken: a new client is slow to build
        with self.limits.slot(f"{self.service}:{action}"):
            try:
                reply = client.call_json(action, dict(params))
            except TencentCloudSDKException as exc:
                raise self._error(action, exc) from None
            except (OSError, ValueError) as exc:  # a reply that isn't JSON, or a socket error below the SDK
                raise TransientError(
                    f"no usable answer ({type(exc).__name__})",
                    service=self.service,
                    action=action,
                    code="ClientNetworkError",
                ) from None
        response = reply.get("Response") if isinstance(reply, dict) else None
        if not isinstance(response, dict):
            raise TransientError(
                "the reply had no Response object", service=self.service, action=action, code="BadResponse"
            )
        return response

    def _error(self, action: str, exc: Any) -> ApiError:
        code = str(exc.get_code() or "Unknown")
        # The SDK's message can quote a URL or a socket error; it never holds our secret key, but
        # scrub anyway: an error message may end up in a CI log.
        message = str(exc.get_message() or "")
        for secret in self.credentials.secrets():
            message = message.replace(secret, "***")
        if code == "ServerNetworkError":
            message = "the endpoint answered with an HTTP error status"
        if code == "ClientNetworkError":
            message = f"could not reach the endpoint ({message[:200]})"
        request_id = exc.get_request_id() if hasattr(exc, "get_request_id") else None
        kwargs: dict[str, Any] = {"service": self.service, "action": action, "code": code, "request_id": request_id}
        if code.startswith("AuthFailure"):
            return AuthError(
                message,
                hint=f"check ${self.credentials.id_variable} and ${self.credentials.key_variable}"
                + (" and the session token" if self.credentials.token else ""),
                **kwargs,
            )
        if code in THROTTLING_CODES:
            return ThrottledError(message, **kwargs)
        if code in TRANSIENT_CODES:
            return TransientError(message, **kwargs)
        return ApiError(message, **kwargs)
