"""spf: SES's include merged into the one SPF record a name may have (RFC 7208 §4.5)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge import spf

SES_SPF = "v=spf1 include:qcloudmail.com ~all"
SES_INCLUDE = "include:qcloudmail.com"
ALL = re.compile(r"^[+?~-]?all$", re.IGNORECASE)


def is_ses_include(term: str) -> bool:
    return term.lower().lstrip("+") == SES_INCLUDE


def is_modifier(term: str) -> bool:
    return "=" in term.split(":", 1)[0]


@pytest.mark.parametrize(
    ("existing", "merged"),
    [
        ("v=spf1 include:_spf.google.com -all", "v=spf1 include:_spf.google.com include:qcloudmail.com -all"),
        ("v=spf1 include:_spf.google.com ~all", "v=spf1 include:_spf.google.com include:qcloudmail.com ~all"),
        ("v=spf1 mx ?all", "v=spf1 mx include:qcloudmail.com ?all"),
        ("v=spf1 a +all", "v=spf1 a include:qcloudmail.com +all"),
        ("v=spf1 ip4:192.0.2.0/24 all", "v=spf1 ip4:192.0.2.0/24 include:qcloudmail.com all"),
        ("v=spf1 -all", "v=spf1 include:qcloudmail.com -all"),
        ("v=spf1 mx -all exp=explain.example.com", "v=spf1 mx include:qcloudmail.com -all exp=explain.example.com"),
        ("v=spf1 redirect=_spf.example.net", "v=spf1 include:qcloudmail.com redirect=_spf.example.net"),
        ("v=spf1 mx", "v=spf1 mx include:qcloudmail.com"),
        ("v=spf1", "v=spf1 include:qcloudmail.com"),
        ("V=SPF1 MX -ALL", "v=spf1 MX include:qcloudmail.com -ALL"),
        ("v=spf1  mx    -all", "v=spf1 mx include:qcloudmail.com -all"),
    ],
)
def test_existing_spf_gets_include_before_all(existing: str, merged: str) -> None:
    result = spf.merge(existing, SES_SPF)
    assert result.value == merged
    assert result.changed is True


@pytest.mark.parametrize(
    "existing",
    [
        "v=spf1 include:qcloudmail.com ~all",
        "v=spf1 include:_spf.google.com include:qcloudmail.com -all",
        "v=spf1 +include:qcloudmail.com -all",
        "v=spf1 INCLUDE:QCLOUDMAIL.COM -all",
        "v=spf1 include:qcloudmail.com",
    ],
)
def test_spf_already_including_ses_is_unchanged(existing: str) -> None:
    result = spf.merge(existing, SES_SPF)
    assert result.value == existing
    assert result.changed is False


def test_ses_all_qualifier_never_replaces_the_owners() -> None:
    assert spf.merge("v=spf1 -all", "v=spf1 include:qcloudmail.com ~all").value.endswith(" -all")
    assert "~all" not in spf.merge("v=spf1 -all", SES_SPF).value


@pytest.mark.parametrize(
    ("value", "lookups"),
    [
        ("v=spf1 -all", 0),
        ("v=spf1 ip4:192.0.2.1 ip6:2001:db8::/32 -all", 0),
        ("v=spf1 include:a.example a mx ptr exists:%{i}.x.example -all", 5),
        ("v=spf1 a:mail.example.com mx/24 a/24 -all", 3),
        ("v=spf1 ~include:a.example ?mx -all", 2),
        ("v=spf1 redirect=_spf.example.net", 1),
        ("v=spf1 exp=explain.example.com -all", 0),
        ("v=spf1 all", 0),
    ],
)
def test_lookup_count_counts_dns_querying_terms(value: str, lookups: int) -> None:
    assert spf.lookup_count(value) == lookups


def test_eleven_lookups_after_merge_is_too_many() -> None:
    existing = "v=spf1 " + " ".join(f"include:s{i}.example" for i in range(10)) + " -all"
    result = spf.merge(existing, SES_SPF)
    assert result.lookups == 11
    assert result.too_many_lookups is True
    assert spf.merge("v=spf1 " + " ".join(f"include:s{i}.example" for i in range(9)) + " -all", SES_SPF).lookups == 10
    assert not spf.merge("v=spf1 mx -all", SES_SPF).too_many_lookups


@pytest.mark.parametrize(
    ("value", "is_spf"),
    [
        ("v=spf1 -all", True),
        ("v=spf1", True),
        ("  V=SPF1 mx", True),
        ("v=spf10 -all", False),
        ("v=spf1x", False),
        ("spf1 -all", False),
        ("google-site-verification=v=spf1", False),
        ("v=DMARC1; p=none", False),
    ],
)
def test_is_spf_needs_the_version_term_first(value: str, is_spf: bool) -> None:
    assert spf.is_spf(value) is is_spf


# --- properties -----------------------------------------------------------------------------

qualifier = st.sampled_from(["", "+", "-", "~", "?"])
host = st.sampled_from(["_spf.google.com", "spf.protection.outlook.com", "mail.example.com", "servers.mcsv.net"])
mechanism = st.one_of(
    st.tuples(qualifier, st.sampled_from(["include:", "a:", "mx:", "exists:"]), host).map("".join),
    st.tuples(qualifier, st.sampled_from(["a", "mx", "ptr", "a/24", "mx/24"])).map("".join),
    st.tuples(qualifier, st.sampled_from(["ip4:192.0.2.0/24", "ip4:198.51.100.7", "ip6:2001:db8::/32"])).map("".join),
    st.sampled_from(["include:qcloudmail.com", "+include:qcloudmail.com", "INCLUDE:QCLOUDMAIL.COM"]),
)
all_term = st.tuples(qualifier, st.sampled_from(["all", "ALL"])).map("".join)
ending = st.one_of(
    st.tuples(all_term, st.sampled_from([[], ["exp=explain.example.com"]])).map(lambda t: [t[0], *t[1]]),
    st.just(["redirect=_spf.example.net"]),
    st.just([]),
)


@st.composite
def existing_spf(draw: st.DrawFn) -> str:
    mechanisms = draw(st.lists(mechanism, max_size=12, unique_by=lambda t: t.lower().lstrip("+")))
    version = draw(st.sampled_from(["v=spf1", "V=SPF1", "v=SPF1"]))
    sep = draw(st.sampled_from([" ", "  ", "\t"]))
    return sep.join([version, *mechanisms, *draw(ending)])


wanted_spf = st.sampled_from(
    [
        SES_SPF,
        "v=spf1 include:qcloudmail.com -all",
        "v=spf1 include:qcloudmail.com",
        "v=spf1 +include:qcloudmail.com ~all",
    ]
)


@settings(max_examples=200, deadline=None)
@given(existing_spf(), wanted_spf)
def test_merge_is_idempotent(existing: str, wanted: str) -> None:
    once = spf.merge(existing, wanted)
    twice = spf.merge(once.value, wanted)
    assert twice.value == once.value
    assert twice.changed is False


@settings(max_examples=200, deadline=None)
@given(existing_spf(), wanted_spf)
def test_merge_keeps_every_term_in_order_and_adds_ses_include_once(existing: str, wanted: str) -> None:
    result = spf.merge(existing, wanted)
    assert spf.is_spf(result.value)
    assert result.value.lower().startswith("v=spf1")
    before, after = spf.terms(existing), spf.terms(result.value)
    # the original terms are a subsequence of the merged ones
    rest = iter(after)
    assert all(term in rest for term in before)
    assert sum(1 for t in after if is_ses_include(t)) == 1
    assert len(after) == len(before) + (0 if any(is_ses_include(t) for t in before) else 1)
    assert result.changed is (len(after) != len(before))
    assert result.lookups == spf.lookup_count(result.value)


@settings(max_examples=200, deadline=None)
@given(existing_spf(), wanted_spf)
def test_merge_keeps_one_all_term_last_among_mechanisms(existing: str, wanted: str) -> None:
    before = spf.terms(existing)
    after = spf.terms(spf.merge(existing, wanted).value)
    all_before = [t for t in before if ALL.match(t)]
    all_after = [t for t in after if ALL.match(t)]
    assert all_after == all_before  # same qualifier, never SES's, never a second one
    mechanisms = [t for t in after if not is_modifier(t)]
    if all_before:
        assert mechanisms[-1] == all_before[0]
    # SES's include is a mechanism, so it goes before redirect= (which applies only when none matched)
    if any(t.startswith("redirect=") for t in after):
        ses_at = next(i for i, t in enumerate(after) if is_ses_include(t))
        assert ses_at < next(i for i, t in enumerate(after) if t.startswith("redirect="))


def test_a_term_ses_lists_twice_is_added_once() -> None:
    merged = spf.merge("v=spf1 mx -all", "v=spf1 include:a.test include:a.test ~all")
    assert merged.value == "v=spf1 mx include:a.test -all"
