"""The report's view of SES: which of the plan's records SES says it has seen."""

from __future__ import annotations

import pytest

from dnsbridge import records
from dnsbridge.onboard import DomainResult
from dnsbridge.plan import diff
from dnsbridge.records import Attribute
from dnsbridge.report import as_json
from dnsbridge.ses import Identity


@pytest.mark.parametrize(
    ("ses_name", "seen"),
    [
        ("xn--ue4a.example.com", True),  # A-labels, as SES usually sends them
        ("邮.example.com", True),  # U-labels: the same name
        ("邮.EXAMPLE.com.", True),  # case and a trailing dot don't make another name
        ("other.example.com", None),  # not this record
        ("bad..name", None),  # SES sent something that is no name: no claim either way
    ],
)
def test_seen_by_ses_matches_names_however_ses_spells_them(ses_name: str, seen: bool | None) -> None:
    domain = "xn--ue4a.example.com"
    wanted = records.desired(domain, [Attribute("TXT", domain, "v=spf1 include:qcloudmail.com ~all")])
    plan = diff(domain, "example.com", wanted, [])
    identity = Identity(domain, False, (Attribute("TXT", ses_name, "v=spf1 include:qcloudmail.com ~all", "", True),))
    result = DomainResult(domain=domain, provider="dnspod", identity=identity, plan=plan)
    [record] = as_json([result])["domains"][0]["records"]
    assert record["seen_by_ses"] is seen
