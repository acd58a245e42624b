"""records.desired: SES's attributes validated and turned into the records the zone should hold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge import records
from dnsbridge.errors import UnexpectedAnswer
from dnsbridge.records import Attribute, DesiredRecord, Kind, Record

DOMAIN = "example.com"
DKIM_VALUE = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"

SES_ATTRIBUTES = [
    Attribute("MX", "example.com", "mxbiz1.qq.com"),
    Attribute("TXT", "example.com", "v=spf1 include:qcloudmail.com ~all"),
    Attribute("TXT", "qcloud._domainkey.example.com", DKIM_VALUE),
    Attribute("TXT", "_dmarc.example.com", "v=DMARC1; p=none"),
]


def by_kind(desired: list[DesiredRecord]) -> dict[Kind, Record]:
    return {d.kind: d.record for d in desired}


def test_ses_attributes_become_one_record_each_classified_by_kind() -> None:
    assert by_kind(records.desired(DOMAIN, SES_ATTRIBUTES)) == {
        Kind.MX: Record("example.com", "MX", "mxbiz1.qq.com", priority=5),
        Kind.SPF: Record("example.com", "TXT", "v=spf1 include:qcloudmail.com ~all"),
        Kind.DKIM: Record("qcloud._domainkey.example.com", "TXT", DKIM_VALUE),
        Kind.DMARC: Record("_dmarc.example.com", "TXT", "v=DMARC1; p=none"),
    }


@settings(max_examples=50, deadline=None)
@given(st.permutations(SES_ATTRIBUTES))
def test_attributes_are_matched_by_type_and_name_not_position(shuffled: list[Attribute]) -> None:
    assert by_kind(records.desired(DOMAIN, shuffled)) == by_kind(records.desired(DOMAIN, SES_ATTRIBUTES))


def test_mx_of_tencent_exmail_host_gets_priority_5() -> None:
    [mx] = records.desired(DOMAIN, [Attribute("MX", "example.com", "mxbiz1.qq.com")])
    assert (mx.record.value, mx.record.priority) == ("mxbiz1.qq.com", 5)


def test_mx_with_a_preference_keeps_it() -> None:
    [mx] = records.desired(DOMAIN, [Attribute("MX", "example.com", "10 MXBIZ1.qq.com.")])
    assert (mx.record.value, mx.record.priority) == ("mxbiz1.qq.com", 10)


@pytest.mark.parametrize(
    ("expected_value", "value"),
    [
        ('"v=spf1 include:qcloudmail.com ~all"', "v=spf1 include:qcloudmail.com ~all"),
        ('"v=DKIM1; k=rsa; " "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"', DKIM_VALUE),
        ("  v=DMARC1; p=none  ", "v=DMARC1; p=none"),
    ],
)
def test_txt_values_given_quoted_are_unquoted(expected_value: str, value: str) -> None:
    [d] = records.desired(DOMAIN, [Attribute("TXT", "example.com", expected_value)])
    assert d.record.value == value


def test_names_and_types_are_normalised() -> None:
    desired = records.desired(
        DOMAIN,
        [
            Attribute("txt", "QCloud._DomainKey.Example.COM.", DKIM_VALUE),
            Attribute("cname", "Track.Example.com", "Target.QCloudMail.com."),
            Attribute("a", "a.example.com", "192.0.2.1"),
        ],
    )
    assert [(d.kind, d.record.name, d.record.type, d.record.value) for d in desired] == [
        (Kind.DKIM, "qcloud._domainkey.example.com", "TXT", DKIM_VALUE),
        (Kind.CNAME, "track.example.com", "CNAME", "target.qcloudmail.com"),
        (Kind.A, "a.example.com", "A", "192.0.2.1"),
    ]


def test_ttl_is_carried_on_every_record() -> None:
    assert {d.record.ttl for d in records.desired(DOMAIN, SES_ATTRIBUTES, ttl=300)} == {300}


@pytest.mark.parametrize(
    ("attribute", "named"),
    [
        (Attribute("AAAA", "example.com", "2001:db8::1"), "'AAAA'"),
        (Attribute("SRV", "_sip._tcp.example.com", "0 5 5060 sip.example.com"), "'SRV'"),
        (Attribute("TXT", "example.com", ""), "example.com"),
        (Attribute("TXT", "example.com", "   "), "example.com"),
        (Attribute("MX", "example.com", ""), "example.com"),
        (Attribute("TXT", "example.net", "v=spf1 ~all"), "'example.net'"),
        (Attribute("TXT", "badexample.com", "v=spf1 ~all"), "'badexample.com'"),
        (Attribute("TXT", "example.com.evil.test", "v=spf1 ~all"), "'example.com.evil.test'"),
        (Attribute("TXT", "com", "v=spf1 ~all"), "'com'"),
        (Attribute("TXT", "bad..example.com", "x"), "'bad..example.com'"),
        (Attribute("MX", "example.com", "not a host"), "'not a host'"),
        (Attribute("CNAME", "x.example.com", "*bad*"), "'*bad*'"),
        (Attribute("A", "a.example.com", "192.0.2.300"), "'192.0.2.300'"),
        (Attribute("A", "a.example.com", "2001:db8::1"), "'2001:db8::1'"),
    ],
)
def test_unusable_attribute_stops_the_run_naming_the_value(attribute: Attribute, named: str) -> None:
    with pytest.raises(UnexpectedAnswer) as info:
        records.desired(DOMAIN, [*SES_ATTRIBUTES, attribute])
    assert named in str(info.value)


@pytest.mark.parametrize("empty", ['""', '"" ""', '  ""  '])
def test_quoted_empty_txt_value_is_an_empty_value(empty: str) -> None:
    with pytest.raises(UnexpectedAnswer, match=r"empty value"):
        records.desired(DOMAIN, [Attribute("TXT", "example.com", empty)])


def test_no_attributes_is_unexpected() -> None:
    with pytest.raises(UnexpectedAnswer, match="no DNS attributes"):
        records.desired(DOMAIN, [])


def test_two_different_spf_values_at_one_name_are_unexpected() -> None:
    with pytest.raises(UnexpectedAnswer, match="SPF"):
        records.desired(DOMAIN, [*SES_ATTRIBUTES, Attribute("TXT", "example.com", "v=spf1 include:other.test ~all")])


def test_two_dmarc_values_at_one_name_are_unexpected() -> None:
    with pytest.raises(UnexpectedAnswer, match="DMARC"):
        records.desired(DOMAIN, [*SES_ATTRIBUTES, Attribute("TXT", "_dmarc.example.com", "v=DMARC1; p=reject")])


def test_the_same_attribute_twice_gives_one_record() -> None:
    twice = [*SES_ATTRIBUTES, Attribute("TXT", "Example.com.", '"v=spf1 include:qcloudmail.com ~all"')]
    assert len(records.desired(DOMAIN, twice)) == 4


def test_dual_signing_gives_two_dkim_records() -> None:
    dual = [*SES_ATTRIBUTES, Attribute("TXT", "qcloudgz2048._domainkey.example.com", DKIM_VALUE + "2048")]
    dkim = [d.record.name for d in records.desired(DOMAIN, dual) if d.kind is Kind.DKIM]
    assert dkim == ["qcloud._domainkey.example.com", "qcloudgz2048._domainkey.example.com"]


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        (Record("example.com", "TXT", "v=spf1 include:qcloudmail.com ~all"), Kind.SPF),
        (Record("example.com", "TXT", "google-site-verification=abc"), Kind.TXT),
        (Record("qcloud._domainkey.example.com", "TXT", DKIM_VALUE), Kind.DKIM),
        (Record("_domainkey.example.com", "TXT", "o=~"), Kind.DKIM),
        (Record("_dmarc.example.com", "TXT", "v=DMARC1; p=none"), Kind.DMARC),
        (Record("mail._dmarc.example.com", "TXT", "v=DMARC1; p=none"), Kind.TXT),
        (Record("x_domainkey.example.com", "TXT", "x"), Kind.TXT),
        (Record("example.com", "MX", "mxbiz1.qq.com", priority=5), Kind.MX),
        (Record("x.example.com", "CNAME", "y.example.com"), Kind.CNAME),
        (Record("x.example.com", "A", "192.0.2.1"), Kind.A),
    ],
)
def test_kind_of_classifies_by_name_and_value(record: Record, kind: Kind) -> None:
    assert records.kind_of(record) is kind


def test_wanted_names_are_ses_names_once_each_sorted() -> None:
    assert records.wanted_names(records.desired(DOMAIN, SES_ATTRIBUTES)) == [
        "_dmarc.example.com",
        "example.com",
        "qcloud._domainkey.example.com",
    ]


def test_mx_display_value_shows_the_priority() -> None:
    assert Record("example.com", "MX", "mxbiz1.qq.com", priority=5).display_value() == "5 mxbiz1.qq.com"
    assert Record("example.com", "TXT", "v=spf1 ~all").display_value() == "v=spf1 ~all"


def test_same_data_ignores_ttl_and_ref() -> None:
    a = Record("example.com", "MX", "mxbiz1.qq.com", priority=5, ttl=300, ref="r1")
    assert a.same_data(Record("example.com", "MX", "mxbiz1.qq.com", priority=5))
    assert not a.same_data(Record("example.com", "MX", "mxbiz1.qq.com", priority=10))
