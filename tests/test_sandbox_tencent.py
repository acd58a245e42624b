"""The Tencent Cloud emulator, driven through the real SDK clients.

The point of the emulator is that the SDK behaves against it as against the service: signatures,
error parsing (which depends on the exact Content-Type) and the documented error codes. So these
tests go through SesClient / DnspodClient wherever the SDK can express the case, and through raw
HTTP only for what the SDK can't send.
"""

from __future__ import annotations

import base64
import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.dnspod.v20210323 import dnspod_client
from tencentcloud.dnspod.v20210323 import models as dnspod_models
from tencentcloud.ses.v20201002 import models as ses_models
from tencentcloud.ses.v20201002 import ses_client

from dnsbridge.sandbox.tc3 import Credentials, sign_headers
from dnsbridge.sandbox.tencent import (
    DKIM_SELECTORS,
    TencentEmulator,
    fake_rsa_public_key,
    txt_from_presentation,
    txt_to_presentation,
)
from dnsbridge.sandbox.zones import StoredRecord, ZoneStore

MAIN = ("AKIDmain", "main-secret")
OTHER = ("AKIDother", "other-secret")
TEMP = ("AKIDtemp", "temp-secret", "session-token")


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> ZoneStore:
    store = ZoneStore(clock=clock)
    store.add_zone("example.com", "dnspod", nameservers=("ns1.example.net", "ns2.example.net"))
    store.add_zone("other.org", "dnspod", account="other")
    store.add_zone("route53.test", "route53")
    return store


@pytest.fixture
def emulator(store: ZoneStore, clock: FakeClock) -> Iterator[TencentEmulator]:
    accounts: dict[str, str | Credentials] = {
        MAIN[0]: MAIN[1],
        OTHER[0]: Credentials(OTHER[1], account="other"),
        TEMP[0]: Credentials(TEMP[1], token=TEMP[2]),
    }
    with TencentEmulator(store, accounts, verify_delay=60, clock=clock) as emu:
        yield emu


def _profile(endpoint: str) -> ClientProfile:
    return ClientProfile(
        httpProfile=HttpProfile(protocol="http", endpoint=urlsplit(endpoint).netloc, reqTimeout=5), language="en-US"
    )


def ses(emu: TencentEmulator, keys: tuple[str, ...] = MAIN, region: str = "ap-singapore") -> Any:
    cred = credential.Credential(*keys)
    return ses_client.SesClient(cred, region, _profile(emu.ses_endpoint))


def dnspod(emu: TencentEmulator, keys: tuple[str, ...] = MAIN) -> Any:
    cred = credential.Credential(*keys)
    return dnspod_client.DnspodClient(cred, "", _profile(emu.dnspod_endpoint))


def error_code(fn: Any, *args: Any, **kwargs: Any) -> str:
    with pytest.raises(TencentCloudSDKException) as info:
        fn(*args, **kwargs)
    return str(info.value.code)


def create_identity(client: Any, domain: str, dkim: int | None = None) -> Any:
    req = ses_models.CreateEmailIdentityRequest()
    req.EmailIdentity = domain
    if dkim is not None:
        req.DKIMOption = dkim
    return client.CreateEmailIdentity(req)


def identity_req(cls: Any, domain: str) -> Any:
    req = cls()
    req.EmailIdentity = domain
    return req


def attrs(resp: Any) -> dict[tuple[str, str], Any]:
    return {(a.Type, a.SendDomain): a for a in resp.Attributes}


def add_txt(store: ZoneStore, name: str, value: str) -> None:
    store.add("example.com", StoredRecord(id=0, name=name, type="TXT", value=txt_to_presentation(value)))


# --- signatures and wire format ---------------------------------------------------------------


def test_signed_call_succeeds_and_is_logged(emulator: TencentEmulator) -> None:
    resp = ses(emulator).ListEmailIdentities(ses_models.ListEmailIdentitiesRequest())
    assert resp.EmailIdentities == [] and resp.Total == 0
    assert len(resp.RequestId) == 36
    assert emulator.count(service="ses", action="ListEmailIdentities") == 1
    assert emulator.calls[-1].params == {}
    emulator.clear_calls()
    assert emulator.count() == 0


def test_wrong_secret_is_signature_failure(emulator: TencentEmulator) -> None:
    client = ses(emulator, (MAIN[0], "not-the-secret"))
    code = error_code(client.ListEmailIdentities, ses_models.ListEmailIdentitiesRequest())
    assert code == "AuthFailure.SignatureFailure"
    assert emulator.count() == 0  # only authenticated calls are logged


def test_unknown_secret_id(emulator: TencentEmulator) -> None:
    client = ses(emulator, ("AKIDnobody", "x"))
    code = error_code(client.ListEmailIdentities, ses_models.ListEmailIdentitiesRequest())
    assert code == "AuthFailure.SecretIdNotFound"


def test_clock_skew_is_signature_expire(store: ZoneStore) -> None:
    with TencentEmulator(store, {MAIN[0]: MAIN[1]}, auth_clock=lambda: time.time() + 301) as emu:
        code = error_code(ses(emu).ListEmailIdentities, ses_models.ListEmailIdentitiesRequest())
    assert code == "AuthFailure.SignatureExpire"
    with TencentEmulator(store, {MAIN[0]: MAIN[1]}, auth_clock=lambda: time.time() + 200) as emu:
        ses(emu).ListEmailIdentities(ses_models.ListEmailIdentitiesRequest())


def test_session_token(emulator: TencentEmulator) -> None:
    ses(emulator, TEMP).ListEmailIdentities(ses_models.ListEmailIdentitiesRequest())
    for keys in [TEMP[:2], (TEMP[0], TEMP[1], "wrong"), (MAIN[0], MAIN[1], "unexpected")]:
        code = error_code(ses(emulator, keys).ListEmailIdentities, ses_models.ListEmailIdentitiesRequest())
        assert code == "AuthFailure.TokenFailure"


def _raw(endpoint: str, headers: dict[str, str], body: bytes) -> tuple[http.client.HTTPResponse, dict[str, Any]]:
    netloc = urlsplit(endpoint).netloc
    conn = http.client.HTTPConnection(netloc, timeout=5)
    conn.request("POST", "/", body=body, headers=headers)
    resp = conn.getresponse()
    data = json.loads(resp.read())
    conn.close()
    return resp, data


def _signed(emu: TencentEmulator, service: str, action: str, params: dict[str, Any], **kw: Any) -> dict[str, Any]:
    endpoint = emu.ses_endpoint if service == "ses" else emu.dnspod_endpoint
    body = json.dumps(params).encode()
    headers = sign_headers(
        secret_id=MAIN[0],
        secret_key=MAIN[1],
        service=kw.pop("scope_service", service),
        host=urlsplit(endpoint).netloc,
        action=action,
        version=kw.pop("version", "2020-10-02" if service == "ses" else "2021-03-23"),
        body=body,
        timestamp=kw.pop("timestamp", int(time.time())),
        **kw,
    )
    resp, data = _raw(endpoint, headers, body)
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    return dict(data["Response"])


def test_errors_are_http_200_with_exact_json_content_type(emulator: TencentEmulator) -> None:
    resp, data = _raw(emulator.ses_endpoint, {"Content-Type": "application/json"}, b"{}")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/json"
    assert set(data["Response"]) == {"Error", "RequestId"}
    assert data["Response"]["Error"]["Code"] == "AuthFailure.SignatureFailure"


def test_manual_signature_timestamp_scope_and_version(emulator: TencentEmulator) -> None:
    ok = _signed(emulator, "ses", "ListEmailIdentities", {}, region="ap-singapore")
    assert "Error" not in ok and ok["Total"] == 0
    old = _signed(emulator, "ses", "ListEmailIdentities", {}, region="ap-singapore", timestamp=int(time.time()) - 400)
    assert old["Error"]["Code"] == "AuthFailure.SignatureExpire"
    wrong_service = _signed(emulator, "ses", "ListEmailIdentities", {}, region="ap-singapore", scope_service="dnspod")
    assert wrong_service["Error"]["Code"] == "AuthFailure.SignatureFailure"
    version = _signed(emulator, "ses", "ListEmailIdentities", {}, region="ap-singapore", version="2019-01-01")
    assert version["Error"]["Code"] == "NoSuchVersion"
    unknown = _signed(emulator, "dnspod", "NoSuchThing", {})
    assert unknown["Error"]["Code"] == "InvalidAction"


def test_sdk_get_method_is_verified_too(emulator: TencentEmulator) -> None:
    profile = _profile(emulator.ses_endpoint)
    profile.httpProfile.reqMethod = "GET"
    client = ses_client.SesClient(credential.Credential(*MAIN), "ap-singapore", profile)
    assert client.ListEmailIdentities(ses_models.ListEmailIdentitiesRequest()).Total == 0


# --- SES --------------------------------------------------------------------------------------


def test_create_identity_attributes(emulator: TencentEmulator) -> None:
    resp = create_identity(ses(emulator), "mail.example.com", dkim=1)
    assert resp.IdentityType == "DOMAIN" and resp.VerifiedForSendingStatus is False
    by_key = attrs(resp)
    assert set(by_key) == {
        ("MX", "mail.example.com"),
        ("TXT", "mail.example.com"),
        ("TXT", f"{DKIM_SELECTORS[1]}._domainkey.mail.example.com"),
        ("TXT", "_dmarc.mail.example.com"),
    }
    assert [a.Type for a in resp.Attributes] != ["MX", "TXT", "TXT", "TXT"]  # not the console order
    assert by_key[("MX", "mail.example.com")].ExpectedValue == "mxbiz1.qq.com"
    assert by_key[("TXT", "mail.example.com")].ExpectedValue == "v=spf1 include:qcloudmail.com ~all"
    dkim = by_key[("TXT", "qcloudgz2048._domainkey.mail.example.com")].ExpectedValue
    assert dkim.startswith("v=DKIM1; k=rsa; p=") and len(dkim) > 255
    assert all(a.CurrentValue == "" and a.Status is False for a in resp.Attributes)


def test_fake_dkim_keys_have_real_sizes() -> None:
    short, long_ = fake_rsa_public_key("a", 1024), fake_rsa_public_key("a", 2048)
    assert len(short) == 216 and len(long_) == 392
    assert base64.b64decode(long_)[:4] == bytes.fromhex("30820122")  # DER SEQUENCE of 290 octets
    assert fake_rsa_public_key("a", 1024) == short != fake_rsa_public_key("b", 1024)


def test_create_identity_errors(emulator: TencentEmulator) -> None:
    client = ses(emulator)
    create_identity(client, "example.com")
    assert error_code(create_identity, client, "example.com") == "InvalidParameterValue.RepeatCreation"
    assert error_code(create_identity, ses(emulator, OTHER), "example.com") == "InvalidParameterValue.CreatedByOther"
    for bad in ["not a domain", "nodot", "example.com.", "-bad.example.com", "bücher.example"]:
        assert error_code(create_identity, client, bad) == "InvalidParameterValue.InvalidEmailIdentity", bad
    assert error_code(create_identity, client, "") == "MissingParameter"
    for i in range(9):
        create_identity(client, f"d{i}.example.com")
    assert error_code(create_identity, client, "eleventh.example.com") == "OperationDenied.ExceedDomainLimit"
    assert ses(emulator).ListEmailIdentities(ses_models.ListEmailIdentitiesRequest()).Total == 10


def test_get_update_unknown_identity(emulator: TencentEmulator) -> None:
    client = ses(emulator)
    create_identity(ses(emulator, OTHER), "theirs.example.com")
    for domain in ["nothing.example.com", "theirs.example.com"]:
        code = error_code(client.GetEmailIdentity, identity_req(ses_models.GetEmailIdentityRequest, domain))
        assert code == "InvalidParameterValue.NotExistDomain"
        code = error_code(client.UpdateEmailIdentity, identity_req(ses_models.UpdateEmailIdentityRequest, domain))
        assert code == "InvalidParameterValue.NotExistDomain"


def test_list_and_delete_identity(emulator: TencentEmulator) -> None:
    client = ses(emulator)
    create_identity(client, "b.example.com", dkim=1)
    create_identity(client, "a.example.com")
    listed = client.ListEmailIdentities(ses_models.ListEmailIdentitiesRequest())
    assert [(i.IdentityName, i.DKIMOption, i.SendingEnabled) for i in listed.EmailIdentities] == [
        ("a.example.com", 0, False),
        ("b.example.com", 1, False),
    ]
    client.DeleteEmailIdentity(identity_req(ses_models.DeleteEmailIdentityRequest, "a.example.com"))
    code = error_code(client.DeleteEmailIdentity, identity_req(ses_models.DeleteEmailIdentityRequest, "a.example.com"))
    assert code == "InvalidParameterValue.NotExistDomain"
    assert client.ListEmailIdentities(ses_models.ListEmailIdentitiesRequest()).Total == 1


def test_unsupported_region(emulator: TencentEmulator) -> None:
    client = ses(emulator, region="ap-tokyo")
    assert error_code(client.ListEmailIdentities, ses_models.ListEmailIdentitiesRequest()) == "UnsupportedRegion"
    ses(emulator, region="ap-guangzhou").ListEmailIdentities(ses_models.ListEmailIdentitiesRequest())


def _publish_all(store: ZoneStore, resp: Any) -> None:
    for a in resp.Attributes:
        if a.Type == "MX":
            mx = StoredRecord(id=0, name=a.SendDomain, type="MX", value=a.ExpectedValue, priority=10)
            store.add("example.com", mx)
        else:
            add_txt(store, a.SendDomain, a.ExpectedValue)


def test_verification_after_delay(emulator: TencentEmulator, store: ZoneStore, clock: FakeClock) -> None:
    client = ses(emulator)
    created = create_identity(client, "example.com", dkim=1)
    _publish_all(store, created)
    add_txt(store, "example.com", "google-site-verification=abc")  # unrelated TXT doesn't matter
    update = identity_req(ses_models.UpdateEmailIdentityRequest, "example.com")
    get = identity_req(ses_models.GetEmailIdentityRequest, "example.com")

    clock.advance(59)
    early = client.UpdateEmailIdentity(update)
    assert early.VerifiedForSendingStatus is False
    assert not any(a.Status for a in early.Attributes)

    clock.advance(1)
    assert client.GetEmailIdentity(get).VerifiedForSendingStatus is False  # Get doesn't re-check...
    assert all(a.Status for a in client.GetEmailIdentity(get).Attributes)  # ...but shows DNS
    done = client.UpdateEmailIdentity(update)
    assert done.VerifiedForSendingStatus is True
    dkim = attrs(done)[("TXT", "qcloudgz2048._domainkey.example.com")]
    assert dkim.CurrentValue == dkim.ExpectedValue
    assert attrs(done)[("MX", "example.com")].CurrentValue == "mxbiz1.qq.com"

    # Once verified, it stays verified even if DNS breaks later.
    for record in store.lookup("qcloudgz2048._domainkey.example.com"):
        store.delete("example.com", record.id)
    again = client.UpdateEmailIdentity(update)
    assert again.VerifiedForSendingStatus is True
    assert attrs(again)[("TXT", "qcloudgz2048._domainkey.example.com")].Status is False


def test_verification_rules(emulator: TencentEmulator, store: ZoneStore, clock: FakeClock) -> None:
    client = ses(emulator)
    created = create_identity(client, "example.com")
    expected = attrs(created)
    dkim_name = "qcloud._domainkey.example.com"
    add_txt(store, "example.com", "v=spf1 include:_spf.google.com include:qcloudmail.com -all")
    add_txt(store, "example.com", "v=spf1 mx -all")  # two SPF records: a permerror, not verified
    add_txt(store, dkim_name, expected[("TXT", dkim_name)].ExpectedValue + "x")
    clock.advance(60)
    resp = client.UpdateEmailIdentity(identity_req(ses_models.UpdateEmailIdentityRequest, "example.com"))
    got = attrs(resp)
    assert got[("TXT", "example.com")].Status is False
    assert got[("TXT", dkim_name)].Status is False
    assert got[("TXT", dkim_name)].CurrentValue.endswith("x")
    assert got[("TXT", "_dmarc.example.com")].CurrentValue == ""
    assert resp.VerifiedForSendingStatus is False

    for record in store.lookup("example.com", "TXT"):
        if "mx -all" in txt_from_presentation(record.value):
            store.delete("example.com", record.id)
    for record in store.lookup(dkim_name):
        store.delete("example.com", record.id)
    add_txt(store, dkim_name, expected[("TXT", dkim_name)].ExpectedValue)
    clock.advance(60)
    resp = client.UpdateEmailIdentity(identity_req(ses_models.UpdateEmailIdentityRequest, "example.com"))
    assert resp.VerifiedForSendingStatus is True  # SPF + DKIM suffice; MX and DMARC are absent
    assert attrs(resp)[("MX", "example.com")].Status is False


def test_rate_limit(emulator: TencentEmulator, clock: FakeClock) -> None:
    client = ses(emulator)
    req = ses_models.ListEmailIdentitiesRequest()
    for _ in range(20):
        client.ListEmailIdentities(req)
    assert error_code(client.ListEmailIdentities, req) == "RequestLimitExceeded"
    # Other actions have their own window.
    assert error_code(create_identity, client, "bad domain") == "InvalidParameterValue.InvalidEmailIdentity"
    clock.advance(1.0)
    client.ListEmailIdentities(req)


def test_dnspod_rate_limit_code(store: ZoneStore, clock: FakeClock) -> None:
    with TencentEmulator(store, {MAIN[0]: MAIN[1]}, clock=clock, rate_limits={"DescribeDomainList": 2}) as emu:
        client = dnspod(emu)
        req = dnspod_models.DescribeDomainListRequest()
        client.DescribeDomainList(req)
        client.DescribeDomainList(req)
        assert error_code(client.DescribeDomainList, req) == "RequestLimitExceeded.RequestLimitExceeded"


def test_injected_faults(emulator: TencentEmulator) -> None:
    client = ses(emulator)
    create_identity(client, "example.com")
    emulator.inject("UpdateEmailIdentity", "FailedOperation.ServiceNotAvailable", times=2)
    req = identity_req(ses_models.UpdateEmailIdentityRequest, "example.com")
    assert error_code(client.UpdateEmailIdentity, req) == "FailedOperation.ServiceNotAvailable"
    assert error_code(client.UpdateEmailIdentity, req) == "FailedOperation.ServiceNotAvailable"
    client.UpdateEmailIdentity(req)
    assert emulator.count(action="UpdateEmailIdentity") == 3
    assert emulator.faults == []


# --- DNSPod -----------------------------------------------------------------------------------


def _create(client: Any, **params: Any) -> int:
    req = dnspod_models.CreateRecordRequest()
    req.from_json_string(json.dumps({"Domain": "example.com", "RecordLine": "默认", **params}))
    return int(client.CreateRecord(req).RecordId)


def _list(client: Any, **params: Any) -> Any:
    req = dnspod_models.DescribeRecordListRequest()
    req.from_json_string(json.dumps({"Domain": "example.com", **params}))
    return client.DescribeRecordList(req)


def test_domains(emulator: TencentEmulator) -> None:
    client = dnspod(emulator)
    resp = client.DescribeDomainList(dnspod_models.DescribeDomainListRequest())
    assert [d.Name for d in resp.DomainList] == ["example.com"]  # not other.org, not route53.test
    assert resp.DomainList[0].EffectiveDNS == ["ns1.example.net", "ns2.example.net"]
    assert isinstance(resp.DomainList[0].DomainId, int) and resp.DomainCountInfo.AllTotal == 1
    req = dnspod_models.DescribeDomainRequest()
    req.Domain = "example.com"
    assert client.DescribeDomain(req).DomainInfo.DnspodNsList == ["ns1.example.net", "ns2.example.net"]
    req.Domain = "mail.example.com"
    assert error_code(client.DescribeDomain, req) == "InvalidParameter.DomainInvalid"
    for name in ["other.org", "nowhere.net"]:
        req.Domain = name
        assert error_code(client.DescribeDomain, req) == "InvalidParameterValue.DomainNotExists"


def test_empty_record_list_is_an_error(emulator: TencentEmulator) -> None:
    client = dnspod(emulator)
    assert error_code(_list, client) == "ResourceNotFound.NoDataOfRecord"
    assert _list(client, ErrorOnEmpty="no").RecordList == []


def test_record_create_list_modify_delete(emulator: TencentEmulator, store: ZoneStore) -> None:
    client = dnspod(emulator)
    mx_id = _create(client, RecordType="MX", Value="mxbiz1.qq.com.", MX=10)
    txt_id = _create(client, SubDomain="_dmarc", RecordType="TXT", Value="v=DMARC1; p=none")
    resp = _list(client)
    assert resp.RecordCountInfo.TotalCount == 2
    items = {r.RecordId: r for r in resp.RecordList}
    mx = items[mx_id]
    assert (mx.Name, mx.Value, mx.MX, mx.TTL) == ("@", "mxbiz1.qq.com.", 10, 600)
    assert (items[txt_id].Name, items[txt_id].Value, items[txt_id].Line) == ("_dmarc", "v=DMARC1; p=none", "默认")
    assert store.lookup("_dmarc.example.com", "TXT")[0].value == '"v=DMARC1; p=none"'
    assert [r.RecordId for r in _list(client, Subdomain="_dmarc").RecordList] == [txt_id]
    assert [r.RecordId for r in _list(client, RecordType="MX").RecordList] == [mx_id]

    req = dnspod_models.ModifyRecordRequest()
    req.from_json_string(
        json.dumps(
            {
                "Domain": "example.com",
                "RecordId": txt_id,
                "SubDomain": "_dmarc",
                "RecordType": "TXT",
                "RecordLine": "默认",
                "Value": "v=DMARC1; p=reject",
            }
        )
    )
    client.ModifyRecord(req)
    assert _list(client, SubDomain="_dmarc").RecordList[0].Value == "v=DMARC1; p=reject"
    req.RecordId = 999999
    assert error_code(client.ModifyRecord, req) == "InvalidParameter.RecordIdInvalid"

    delete = dnspod_models.DeleteRecordRequest()
    delete.Domain, delete.RecordId = "example.com", txt_id
    client.DeleteRecord(delete)
    assert error_code(client.DeleteRecord, delete) == "InvalidParameter.RecordIdInvalid"
    assert error_code(_list, client, SubDomain="_dmarc") == "ResourceNotFound.NoDataOfRecord"


def test_modify_without_subdomain_moves_record_to_apex(emulator: TencentEmulator) -> None:
    client = dnspod(emulator)
    rid = _create(client, SubDomain="www", RecordType="A", Value="192.0.2.1")
    req = dnspod_models.ModifyRecordRequest()
    req.from_json_string(
        json.dumps(
            {"Domain": "example.com", "RecordId": rid, "RecordType": "A", "RecordLine": "默认", "Value": "192.0.2.2"}
        )
    )
    client.ModifyRecord(req)
    assert _list(client).RecordList[0].Name == "@"


def test_record_validation_errors(emulator: TencentEmulator) -> None:
    client = dnspod(emulator)
    _create(client, RecordType="TXT", Value="v=spf1 include:qcloudmail.com ~all")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"RecordType": "TXT", "Value": "v=spf1 include:qcloudmail.com ~all"}, "InvalidParameter.DomainRecordExist"),
        ({"RecordType": "TXT", "Value": "x" * 2049}, "InvalidParameter.RecordValueLengthInvalid"),
        ({"RecordType": "MX", "Value": "mx.example.net"}, "InvalidParameter.MxInvalid"),
        ({"RecordType": "MX", "Value": "mx.example.net", "MX": 70000}, "InvalidParameter.MxInvalid"),
        ({"RecordType": "A", "Value": "1.2.3.4", "TTL": 60}, "LimitExceeded.RecordTtlLimit"),
        ({"RecordType": "A", "Value": "1.2.3.4", "RecordLine": "电信"}, "InvalidParameter.RecordLineInvalid"),
        ({"RecordType": "A", "Value": "not-an-ip"}, "InvalidParameter.RecordValueInvalid"),
        ({"RecordType": "BOGUS", "Value": "x"}, "InvalidParameter.RecordTypeInvalid"),
        ({"RecordType": "A", "Value": "1.2.3.4", "SubDomain": "bad label!"}, "InvalidParameter.SubdomainInvalid"),
        ({"RecordType": "CNAME", "Value": "elsewhere.example.net"}, "FailedOperation"),  # apex has TXT
        ({"RecordType": "A", "Value": "1.2.3.4", "Domain": "nowhere.net"}, "InvalidParameterValue.DomainNotExists"),
        ({"Value": "1.2.3.4"}, "MissingParameter"),
    ]
    for params, code in cases:
        assert error_code(_create, client, **params) == code, params
    _create(client, SubDomain="www", RecordType="CNAME", Value="cdn.example.net")
    assert error_code(_create, client, SubDomain="www", RecordType="TXT", Value="x") == "FailedOperation"
    _create(client, RecordType="A", Value="1.2.3.4", RecordLine="", RecordLineId="0")


def test_long_txt_round_trip(emulator: TencentEmulator, store: ZoneStore) -> None:
    client = dnspod(emulator)
    value = "v=DKIM1; k=rsa; p=" + fake_rsa_public_key("x", 2048) + ' "quoted" back\\slash'
    _create(client, SubDomain="qcloudgz2048._domainkey", RecordType="TXT", Value=value)
    stored = store.lookup("qcloudgz2048._domainkey.example.com", "TXT")[0].value
    assert stored.startswith('"v=DKIM1; k=rsa; p=') and '" "' in stored  # split into 255-octet strings
    assert '\\"quoted\\"' in stored and "back\\\\slash" in stored
    assert _list(client, SubDomain="qcloudgz2048._domainkey").RecordList[0].Value == value
    assert txt_from_presentation(stored) == value
