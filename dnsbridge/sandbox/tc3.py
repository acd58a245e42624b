"""Server-side checking of Tencent Cloud API 3.0 TC3-HMAC-SHA256 signatures.

The emulators must reject what the real gateway rejects, or a client with a broken signer, a
skewed clock or a missing session token would pass every local test and fail in production. The
canonical request is rebuilt exactly the way the Python SDK builds it
(`tencentcloud/common/abstract_client.py`, `_build_req_with_tc3_signature` and
`_get_tc3_signature`), so the SDK's own requests verify byte for byte.

Error codes are the documented common error codes of API 3.0 ("AuthFailure.*", "MissingParameter").
Which check the real gateway runs first is unconfirmed; the order here is: header shape, timestamp,
credential scope, SecretId, session token, signature.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

ALGORITHM = "TC3-HMAC-SHA256"
# API-FACTS: "AuthFailure.SignatureExpire (clock off by more than 300 s)".
MAX_SKEW_SECONDS = 300


class TC3Error(Exception):
    """A rejection the gateway reports as `Response.Error`; `code` is the documented code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """One API key pair of an account.

    `account` groups key pairs that belong to the same Tencent Cloud account (identities, zones
    and rate limits are per account, not per key). `token` marks temporary credentials: a request
    signed with them must carry the same X-TC-Token.
    """

    secret_key: str
    token: str | None = None
    account: str = "default"


@dataclass(frozen=True)
class VerifiedRequest:
    secret_id: str
    account: str
    service: str
    timestamp: int


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, service: str) -> bytes:
    """The derived key: the SDK's `Sign.sign_tc3` key chain."""
    k_date = _hmac(("TC3" + secret_key).encode("utf-8"), date)
    k_service = _hmac(k_date, service)
    return _hmac(k_service, "tc3_request")


def string_to_sign(
    *,
    method: str,
    path: str,
    query: str,
    canonical_headers: str,
    signed_headers: str,
    payload_hash: str,
    timestamp: str,
    scope: str,
) -> str:
    canonical_request = f"{method}\n{path}\n{query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{scope}\n{digest}"


def sign_headers(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    version: str,
    body: bytes,
    timestamp: int,
    region: str | None = None,
    token: str | None = None,
) -> dict[str, str]:
    """Headers for a POST/JSON request signed the SDK's way.

    For tests that need what the SDK can't produce on demand (a chosen timestamp, a forged
    scope) while still exercising the real verification path.
    """
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    content_type = "application/json"
    to_sign = string_to_sign(
        method="POST",
        path="/",
        query="",
        canonical_headers=f"content-type:{content_type}\nhost:{host}\n",
        signed_headers="content-type;host",
        payload_hash=hashlib.sha256(body).hexdigest(),
        timestamp=str(timestamp),
        scope=scope,
    )
    signature = hmac.new(signing_key(secret_key, date, service), to_sign.encode(), hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": content_type,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
        "Authorization": (
            f"{ALGORITHM} Credential={secret_id}/{scope}, SignedHeaders=content-type;host, Signature={signature}"
        ),
    }
    if region:
        headers["X-TC-Region"] = region
    if token:
        headers["X-TC-Token"] = token
    return headers


def _parse_authorization(value: str) -> tuple[str, str, str, str, list[str], str]:
    """Split `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=..., Signature=...`."""
    bad = TC3Error(
        "AuthFailure.InvalidAuthorization",
        "The Authorization header does not conform to the TC3-HMAC-SHA256 standard.",
    )
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise bad
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            raise bad
        fields[key] = val
    try:
        credential = fields["Credential"]
        signed = fields["SignedHeaders"]
        signature = fields["Signature"]
    except KeyError:
        raise bad from None
    pieces = credential.split("/")
    if len(pieces) != 4 or pieces[3] != "tc3_request" or not all(pieces):
        raise bad
    signed_headers = signed.split(";")
    # The SDK always signs at least content-type and host; the API 3.0 docs require both.
    if "content-type" not in signed_headers or "host" not in signed_headers:
        raise bad
    return pieces[0], pieces[1], pieces[2], signature, signed_headers, signed


class TC3Verifier:
    """Checks one request's signature against a table of known key pairs."""

    def __init__(
        self,
        accounts: Mapping[str, str | Credentials],
        *,
        clock: Callable[[], float] = time.time,
        max_skew: float = MAX_SKEW_SECONDS,
    ) -> None:
        self.accounts: dict[str, Credentials] = {
            sid: cred if isinstance(cred, Credentials) else Credentials(secret_key=cred)
            for sid, cred in accounts.items()
        }
        self.clock = clock
        self.max_skew = max_skew

    def verify(
        self,
        *,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        service: str,
    ) -> VerifiedRequest:
        """Return who signed the request or raise `TC3Error` with the code the gateway answers.

        `headers` must be looked up case-insensitively (an `email.message.Message` is); `service`
        is the service this endpoint serves, which the credential scope must name.
        """
        authorization = headers.get("Authorization")
        if not authorization:
            raise TC3Error("AuthFailure.SignatureFailure", "The request is missing the Authorization header.")
        secret_id, date, scope_service, signature, signed_headers, signed = _parse_authorization(authorization)

        raw_ts = headers.get("X-TC-Timestamp")
        if raw_ts is None:
            raise TC3Error("MissingParameter", "The request is missing a required parameter `Timestamp`.")
        try:
            timestamp = int(raw_ts)
        except ValueError:
            raise TC3Error("InvalidParameter", "The parameter `Timestamp` is not an integer.") from None
        if abs(self.clock() - timestamp) > self.max_skew:
            raise TC3Error(
                "AuthFailure.SignatureExpire",
                "Signature expired: the request timestamp differs from the server time by more than "
                f"{int(self.max_skew)} seconds.",
            )

        # The scope's date is the UTC date of X-TC-Timestamp (the SDK derives both from one
        # `time.time()`); a mismatch means the signer is broken, reported as a bad signature.
        expected_date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if date != expected_date or scope_service != service:
            raise TC3Error(
                "AuthFailure.SignatureFailure",
                f"The credential scope {date}/{scope_service} does not match {expected_date}/{service}.",
            )

        creds = self.accounts.get(secret_id)
        if creds is None:
            raise TC3Error("AuthFailure.SecretIdNotFound", "The SecretId is not found.")

        token = headers.get("X-TC-Token")
        if creds.token is None and token:
            raise TC3Error("AuthFailure.TokenFailure", "A token was sent with permanent credentials.")
        if creds.token is not None and not hmac.compare_digest((token or "").encode(), creds.token.encode()):
            raise TC3Error("AuthFailure.TokenFailure", "The temporary credentials' token is missing or invalid.")

        canonical_headers = "".join(f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed_headers)
        if headers.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD":
            payload_hash = hashlib.sha256(b"UNSIGNED-PAYLOAD").hexdigest()
        else:
            payload_hash = hashlib.sha256(body).hexdigest()
        to_sign = string_to_sign(
            method=method,
            path=path,
            # The SDK signs a GET's urlencoded parameters as the query and an empty one for POST.
            query=query if method == "GET" else "",
            canonical_headers=canonical_headers,
            signed_headers=signed,
            payload_hash=payload_hash,
            timestamp=raw_ts,
            scope=f"{date}/{scope_service}/tc3_request",
        )
        expected = hmac.new(
            signing_key(creds.secret_key, date, scope_service), to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise TC3Error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        return VerifiedRequest(secret_id=secret_id, account=creds.account, service=service, timestamp=timestamp)
