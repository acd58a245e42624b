"""Tencent Cloud SES (API 2020-10-02): the sender identity and its verification.

`ensure_identity` costs one call on a fresh domain and two on a rerun (Create answers
`InvalidParameterValue.RepeatCreation`, then Get). Getting first would cost two on every fresh
domain and one on reruns; onboarding is mostly of fresh domains, so Create goes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dnsbridge.errors import ApiError, UnexpectedAnswer, UsageError
from dnsbridge.ratelimit import Limits
from dnsbridge.records import Attribute
from dnsbridge.retry import Deadline, RetryPolicy
from dnsbridge.tencent import Credentials, Endpoint, TencentApi, endpoint_from

VERSION = "2020-10-02"
# API-FACTS.md: the international site serves ap-singapore; the China site serves the others.
REGION_HOSTS = {
    "ap-singapore": "ses.intl.tencentcloudapi.com",
    "ap-guangzhou": "ses.tencentcloudapi.com",
    "ap-hongkong": "ses.tencentcloudapi.com",
}
DKIM_OPTIONS = {1024: 0, 2048: 1}

_EXPLAINED = {
    "InvalidParameterValue.CreatedByOther": (
        "another Tencent Cloud account has already registered this domain with SES",
        "remove it from that account, or use that account's credentials",
    ),
    "InvalidParameterValue.InvalidEmailIdentity": ("SES does not accept this name as a sender domain", None),
    "OperationDenied.ExceedDomainLimit": (
        "the account has reached its limit of sender domains",
        "delete an unused sender domain in the SES console, or ask Tencent Cloud for a higher quota",
    ),
    "LimitExceeded": (
        "the account has reached an SES quota",
        "delete an unused sender domain in the SES console, or ask Tencent Cloud for a higher quota",
    ),
    "UnsupportedRegion": (
        "SES is not offered in this region on this endpoint",
        "use --region ap-singapore for the international site, ap-guangzhou or ap-hongkong for the China site",
    ),
    "InvalidParameterValue.NotExistDomain": (
        "SES has no sender domain of this name in this account",
        "`dnsbridge onboard DOMAIN` registers it",
    ),
}


@dataclass(frozen=True)
class Identity:
    domain: str
    verified: bool
    attributes: tuple[Attribute, ...]
    dkim_option: int | None = None
    created: bool = False


def endpoint_for(region: str, env: Mapping[str, str]) -> Endpoint:
    override = env.get("DNSBRIDGE_SES_ENDPOINT", "").strip()
    if override:
        return endpoint_from(override, "DNSBRIDGE_SES_ENDPOINT")
    if region not in REGION_HOSTS:
        raise UsageError(f"unknown SES region {region!r}; choose one of {', '.join(REGION_HOSTS)}")
    return Endpoint(REGION_HOSTS[region], "https")


class Ses:
    def __init__(
        self,
        credentials: Credentials,
        region: str,
        env: Mapping[str, str],
        *,
        retry: RetryPolicy,
        timeout: float = 15.0,
        limits: Limits | None = None,
    ) -> None:
        endpoint = endpoint_for(region, env)
        self._api = TencentApi("ses", VERSION, credentials, endpoint, region, timeout=timeout, limits=limits)
        self._retry = retry

    def _call(self, action: str, params: Mapping[str, Any], deadline: Deadline | None) -> dict[str, Any]:
        try:
            return self._retry.call(lambda: self._api.call(action, params), deadline)
        except ApiError as exc:
            if exc.code in _EXPLAINED:
                message, hint = _EXPLAINED[exc.code]
                exc.message, exc.hint = message, hint or exc.hint
            raise

    def ensure_identity(self, domain: str, dkim_bits: int, deadline: Deadline | None = None) -> Identity:
        try:
            reply = self._call(
                "CreateEmailIdentity", {"EmailIdentity": domain, "DKIMOption": DKIM_OPTIONS[dkim_bits]}, deadline
            )
        except ApiError as exc:
            if exc.code != "InvalidParameterValue.RepeatCreation":
                raise
            return self.get(domain, deadline)
        return _identity(domain, reply, created=True)

    def get(self, domain: str, deadline: Deadline | None = None) -> Identity:
        return _identity(domain, self._call("GetEmailIdentity", {"EmailIdentity": domain}, deadline))

    def verify(self, domain: str, deadline: Deadline | None = None) -> Identity:
        """UpdateEmailIdentity: ask SES to look at DNS again now."""
        return _identity(domain, self._call("UpdateEmailIdentity", {"EmailIdentity": domain}, deadline))


def _identity(domain: str, reply: Mapping[str, Any], created: bool = False) -> Identity:
    raw = reply.get("Attributes")
    if not isinstance(raw, list):
        raise UnexpectedAnswer(f"SES answered without an Attributes list for {domain}")
    attributes = []
    for item in raw:
        if not isinstance(item, dict):
            raise UnexpectedAnswer(f"SES sent an attribute that is not an object: {item!r}")
        attributes.append(
            Attribute(
                type=str(item.get("Type") or ""),
                send_domain=str(item.get("SendDomain") or ""),
                expected_value=str(item.get("ExpectedValue") or ""),
                current_value=str(item.get("CurrentValue") or ""),
                status=bool(item.get("Status")),
            )
        )
    dkim = reply.get("DKIMOption")
    return Identity(
        domain=domain,
        verified=bool(reply.get("VerifiedForSendingStatus")),
        attributes=tuple(attributes),
        dkim_option=dkim if isinstance(dkim, int) else None,
        created=created,
    )
