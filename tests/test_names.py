"""names: the one canonical spelling of a DNS name (IDNA A-labels, lower case, no trailing dot)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge import names
from dnsbridge.errors import InvalidDomain, UsageError

LDH = "abcdefghijklmnopqrstuvwxyz0123456789"
label = st.text(alphabet=LDH, min_size=1, max_size=20).filter(lambda s: not s.isdigit())
hostname = st.lists(label, min_size=2, max_size=5).map(".".join)


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("example.com", "example.com"),
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),
        ("  example.com \n", "example.com"),
        ("Bücher.Example", "xn--bcher-kva.example"),
        ("BÜCHER.example.", "xn--bcher-kva.example"),
        ("straße.de", "xn--strae-oqa.de"),
        ("例子.中国", "xn--fsqu00a.xn--fiqs8s"),
        ("ＥＸＡＭＰＬＥ.com", "example.com"),  # full-width letters map to ASCII (UTS #46)
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("_dmarc.Example.com", "_dmarc.example.com"),
        ("qcloud._domainkey.example.com", "qcloud._domainkey.example.com"),
        ("a-b.example.com", "a-b.example.com"),
    ],
)
def test_normalise_gives_lower_case_a_labels_without_trailing_dot(given_name: str, expected: str) -> None:
    assert names.normalise(given_name) == expected


@pytest.mark.parametrize("given_name", ["例子。中国", "example。com", "example．com", "example｡com"])
def test_ideographic_full_stop_separates_labels(given_name: str) -> None:
    assert names.normalise(given_name) in {"xn--fsqu00a.xn--fiqs8s", "example.com"}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        ".",
        "..",
        "example..com",
        ".example.com",
        "example.com..",
        "exa mple.com",
        "-example.com",
        "example-.com",
        "exa!mple.com",
        "*.example.com",
        "a" * 64 + ".com",
        "ü" * 60 + ".com",  # its A-label is longer than 63 octets
    ],
)
def test_normalise_rejects_what_is_not_a_dns_name(bad: str) -> None:
    with pytest.raises(InvalidDomain):
        names.normalise(bad)


def test_label_of_63_octets_is_the_longest_accepted() -> None:
    assert names.normalise("a" * 63 + ".com") == "a" * 63 + ".com"
    with pytest.raises(InvalidDomain, match="63"):
        names.normalise("a" * 64 + ".com")


def test_name_of_253_octets_is_the_longest_accepted() -> None:
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
    assert len(longest) == 253
    assert names.normalise(longest + ".") == longest
    with pytest.raises(InvalidDomain, match="253"):
        names.normalise(longest + "d")


def test_name_length_counts_the_a_label_form() -> None:
    # 233 characters as typed, 263 octets as A-labels (each "ü" * 45 becomes 51 octets)
    unicode_name = ".".join(["ü" * 45] * 5) + ".com"
    assert len(unicode_name) <= names.MAX_NAME_OCTETS
    with pytest.raises(InvalidDomain):
        names.normalise(unicode_name)


def test_invalid_domain_is_a_usage_error_with_exit_code_2() -> None:
    with pytest.raises(UsageError) as info:
        names.normalise("bad..name")
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("Example.COM.", "example.com"),
        ("mail.example.co.uk", "mail.example.co.uk"),
        ("Bücher.Example", "xn--bcher-kva.example"),
    ],
)
def test_sender_domain_accepts_hostnames(given_name: str, expected: str) -> None:
    assert names.sender_domain(given_name) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "192.0.2.1",
        "192.0.2.1.",
        "10.0.0.1",
        "2001:db8::1",
        "[2001:db8::1]",
        "::ffff:192.0.2.1",
        "*.example.com",
        "mail.*.example.com",
        "*",
        "com",
        "localhost.",
        "_dmarc.example.com",
        "example.123",
        "",
        "a..b",
    ],
)
def test_sender_domain_rejects_addresses_wildcards_and_non_hostnames(bad: str) -> None:
    with pytest.raises(InvalidDomain):
        names.sender_domain(bad)


@pytest.mark.parametrize(
    ("name", "zone", "inside"),
    [
        ("example.com", "example.com", True),
        ("mail.example.com", "example.com", True),
        ("a.b.example.com", "example.com", True),
        ("badexample.com", "example.com", False),
        ("example.com", "mail.example.com", False),
        ("example.com.cn", "example.com", False),
    ],
)
def test_is_within_compares_whole_labels(name: str, zone: str, inside: bool) -> None:
    assert names.is_within(name, zone) is inside


def test_relative_gives_at_sign_at_the_apex_and_the_prefix_below() -> None:
    assert names.relative("example.com", "example.com") == "@"
    assert names.relative("qcloud._domainkey.example.com", "example.com") == "qcloud._domainkey"
    with pytest.raises(ValueError, match="not in zone"):
        names.relative("badexample.com", "example.com")


def test_suffixes_are_longest_first() -> None:
    assert names.suffixes("a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]


@settings(max_examples=200, deadline=None)
@given(hostname, st.booleans(), st.booleans())
def test_normalise_ignores_case_and_trailing_dot(name: str, upper: bool, dot: bool) -> None:
    spelled = (name.upper() if upper else name) + ("." if dot else "")
    assert names.normalise(spelled) == name
    assert names.normalise(names.normalise(spelled)) == name


@settings(max_examples=200, deadline=None)
@given(hostname)
def test_relative_and_zone_rebuild_the_name(name: str) -> None:
    for zone in names.suffixes(name):
        assert names.is_within(name, zone)
        rel = names.relative(name, zone)
        assert (zone if rel == "@" else f"{rel}.{zone}") == name
