"""plan.diff: every row of DESIGN.md's record policy, as plain data."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge import records, spf
from dnsbridge.errors import ConflictError
from dnsbridge.plan import Action, Change, Plan, diff
from dnsbridge.records import Attribute, DesiredRecord, Kind, Record

DOMAIN = "example.com"
DKIM = "qcloud._domainkey.example.com"
DMARC = "_dmarc.example.com"
SES_MX = "mxbiz1.qq.com"
SES_SPF = "v=spf1 include:qcloudmail.com ~all"
SES_DMARC = "v=DMARC1; p=none"
DKIM_VALUE = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC"
OLD_DKIM_VALUE = "v=DKIM1; k=rsa; p=MIGfOLDKEY"

_refs = itertools.count(1)


def rec(name: str, rtype: str, value: str, priority: int | None = None) -> Record:
    """A record as a provider reads it: normalised, with the provider's handle on it."""
    if rtype == "MX" and priority is None:
        priority = 10
    return Record(name, rtype, value, priority=priority, ttl=600, ref=f"id{next(_refs)}")


def ses_desired(dkim_selectors: Sequence[str] = ("qcloud",), extra: Sequence[Attribute] = ()) -> list[DesiredRecord]:
    attributes = [
        Attribute("MX", DOMAIN, SES_MX),
        Attribute("TXT", DOMAIN, SES_SPF),
        *(Attribute("TXT", f"{s}._domainkey.{DOMAIN}", f"{DKIM_VALUE}{s}") for s in dkim_selectors),
        Attribute("TXT", DMARC, SES_DMARC),
        *extra,
    ]
    return records.desired(DOMAIN, attributes)


def plan_for(current: Sequence[Record], *, replace_mx: bool = False, desired: Sequence[DesiredRecord] = ()) -> Plan:
    return diff(DOMAIN, DOMAIN, list(desired) or ses_desired(), list(current), replace_mx=replace_mx)


def change(plan: Plan, kind: Kind) -> Change:
    [found] = [c for c in plan.changes if c.kind is kind]
    return found


def dkim_value() -> str:
    return f"{DKIM_VALUE}qcloud"


# --- SPF ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("qualifier", ["-", "~", "?", "+", ""])
def test_existing_spf_gets_include_before_all(qualifier: str) -> None:
    existing = rec(DOMAIN, "TXT", f"v=spf1 include:_spf.google.com {qualifier}all")
    plan = plan_for([existing])
    spf_change = change(plan, Kind.SPF)
    assert spf_change.action is Action.UPDATE
    assert spf_change.record.value == f"v=spf1 include:_spf.google.com include:qcloudmail.com {qualifier}all"
    assert spf_change.record.ref == existing.ref
    assert spf_change.existing == existing
    assert "include:qcloudmail.com" in spf_change.reason
    assert [c.record.value for c in plan.writes if c.kind is Kind.SPF] == [spf_change.record.value]


def test_no_spf_creates_ses_value() -> None:
    spf_change = change(plan_for([rec(DOMAIN, "TXT", "google-site-verification=abc")]), Kind.SPF)
    assert (spf_change.action, spf_change.record.value, spf_change.record.ref) == (Action.CREATE, SES_SPF, None)


def test_two_spf_records_are_a_conflict() -> None:
    current = [rec(DOMAIN, "TXT", "v=spf1 mx -all"), rec(DOMAIN, "TXT", "v=spf1 include:_spf.google.com ~all")]
    with pytest.raises(ConflictError, match="2 SPF records"):
        plan_for(current)


@pytest.mark.parametrize(
    "value",
    [SES_SPF, "v=spf1 include:_spf.google.com include:qcloudmail.com -all", "V=SPF1 +INCLUDE:QCLOUDMAIL.COM -ALL"],
)
def test_spf_already_including_ses_is_unchanged(value: str) -> None:
    existing = rec(DOMAIN, "TXT", value)
    spf_change = change(plan_for([existing]), Kind.SPF)
    assert spf_change.action is Action.UNCHANGED
    assert spf_change.record == existing


def test_spf_needing_more_than_ten_lookups_is_written_with_a_warning() -> None:
    existing = rec(DOMAIN, "TXT", "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(10)) + " -all")
    plan = plan_for([existing])
    assert change(plan, Kind.SPF).action is Action.UPDATE
    assert len(plan.warnings) == 1
    assert "11 DNS lookups" in plan.warnings[0]
    assert DOMAIN in plan.warnings[0]


def test_spf_of_ten_lookups_has_no_warning() -> None:
    existing = rec(DOMAIN, "TXT", "v=spf1 " + " ".join(f"include:s{i}.example.net" for i in range(9)) + " -all")
    assert plan_for([existing]).warnings == ()


def test_spf_record_at_another_name_is_not_merged() -> None:
    elsewhere = rec("mail.example.com", "TXT", "v=spf1 mx -all")
    plan = plan_for([elsewhere])
    assert change(plan, Kind.SPF).action is Action.CREATE
    assert all(c.record.name != "mail.example.com" for c in plan.changes)


# --- DKIM --------------------------------------------------------------------------------------


def test_missing_dkim_is_created() -> None:
    dkim = change(plan_for([]), Kind.DKIM)
    assert (dkim.action, dkim.record.name, dkim.record.value) == (Action.CREATE, DKIM, dkim_value())


def test_different_dkim_value_is_updated_in_place() -> None:
    old = rec(DKIM, "TXT", OLD_DKIM_VALUE)
    dkim = change(plan_for([old]), Kind.DKIM)
    assert dkim.action is Action.UPDATE
    assert (dkim.record.name, dkim.record.value, dkim.record.ref) == (DKIM, dkim_value(), old.ref)
    assert dkim.existing == old
    assert dkim.record.ttl == old.ttl  # SES asked for no TTL, so the record's own is kept


def test_equal_dkim_is_unchanged() -> None:
    same = rec(DKIM, "TXT", dkim_value())
    dkim = change(plan_for([same]), Kind.DKIM)
    assert (dkim.action, dkim.record) == (Action.UNCHANGED, same)


def test_dkim_name_with_two_foreign_values_is_a_conflict() -> None:
    with pytest.raises(ConflictError, match="never deletes"):
        plan_for([rec(DKIM, "TXT", OLD_DKIM_VALUE), rec(DKIM, "TXT", "v=DKIM1; p=OTHER")])


def test_dkim_equal_beside_a_stale_value_is_unchanged() -> None:
    same = rec(DKIM, "TXT", dkim_value())
    plan = plan_for([rec(DKIM, "TXT", OLD_DKIM_VALUE), same])
    assert change(plan, Kind.DKIM).action is Action.UNCHANGED


def test_dual_signing_plans_each_dkim_name_on_its_own() -> None:
    desired = ses_desired(("qcloud", "qcloudgz2048"))
    current = [rec(DKIM, "TXT", dkim_value())]
    plan = plan_for(current, desired=desired)
    dkim = {c.record.name: c.action for c in plan.changes if c.kind is Kind.DKIM}
    assert dkim == {DKIM: Action.UNCHANGED, "qcloudgz2048._domainkey.example.com": Action.CREATE}


# --- DMARC -------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["v=DMARC1; p=reject; rua=mailto:d@example.com", "V=DMARC1; p=quarantine"])
def test_existing_dmarc_is_kept(policy: str) -> None:
    owners = rec(DMARC, "TXT", policy)
    plan = plan_for([owners])
    dmarc = change(plan, Kind.DMARC)
    assert (dmarc.action, dmarc.record) == (Action.KEPT, owners)
    assert "owner" in dmarc.reason
    assert all(c.kind is not Kind.DMARC for c in plan.writes)


def test_missing_dmarc_is_created() -> None:
    dmarc = change(plan_for([rec(DMARC, "TXT", "some-other-verification=1")]), Kind.DMARC)
    assert (dmarc.action, dmarc.record.name, dmarc.record.value) == (Action.CREATE, DMARC, SES_DMARC)


def test_dmarc_equal_to_ses_is_unchanged() -> None:
    assert change(plan_for([rec(DMARC, "TXT", SES_DMARC)]), Kind.DMARC).action is Action.UNCHANGED


# --- MX ----------------------------------------------------------------------------------------


def test_missing_mx_is_created_with_priority_5() -> None:
    mx = change(plan_for([rec(DOMAIN, "TXT", SES_SPF)]), Kind.MX)
    assert (mx.action, mx.record.value, mx.record.priority) == (Action.CREATE, SES_MX, 5)


def test_other_mx_hosts_are_skipped_with_the_reason() -> None:
    current = [rec(DOMAIN, "MX", "aspmx.l.google.com", 1), rec(DOMAIN, "MX", "alt1.aspmx.l.google.com", 5)]
    plan = plan_for(current)
    mx = change(plan, Kind.MX)
    assert mx.action is Action.SKIPPED
    assert "aspmx.l.google.com" in mx.reason
    assert "--replace-mx" in mx.reason
    assert all(c.kind is not Kind.MX for c in plan.writes)


def test_replace_mx_updates_the_one_mx_record() -> None:
    old = rec(DOMAIN, "MX", "mx.old-host.example.net", 10)
    mx = change(plan_for([old], replace_mx=True), Kind.MX)
    assert mx.action is Action.UPDATE
    assert (mx.record.value, mx.record.priority, mx.record.ref) == (SES_MX, 5, old.ref)
    assert mx.existing == old


def test_replace_mx_refuses_to_replace_several_mx_records() -> None:
    current = [rec(DOMAIN, "MX", "a.example.net"), rec(DOMAIN, "MX", "b.example.net")]
    with pytest.raises(ConflictError, match="2 MX records"):
        plan_for(current, replace_mx=True)


@pytest.mark.parametrize("replace_mx", [False, True])
@pytest.mark.parametrize("priority", [5, 10])
def test_ses_mx_host_present_is_unchanged(replace_mx: bool, priority: int) -> None:
    ses = rec(DOMAIN, "MX", SES_MX, priority)
    current = [rec(DOMAIN, "MX", "backup.example.net", 20), ses]
    mx = change(plan_for(current, replace_mx=replace_mx), Kind.MX)
    assert (mx.action, mx.record) == (Action.UNCHANGED, ses)


# --- CNAME and A -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [DOMAIN, DKIM, DMARC])
def test_cname_at_a_name_ses_needs_is_a_conflict_before_any_change(name: str) -> None:
    current = [rec(name, "CNAME", "elsewhere.example.net")]
    with pytest.raises(ConflictError, match=r"elsewhere\.example\.net"):
        plan_for(current)


def test_ses_cname_beside_other_data_is_a_conflict() -> None:
    desired = ses_desired(extra=[Attribute("CNAME", "track.example.com", "t.qcloudmail.com")])
    current = [rec("track.example.com", "TXT", "x"), rec("track.example.com", "A", "192.0.2.1")]
    with pytest.raises(ConflictError, match="A, TXT"):
        plan_for(current, desired=desired)


def test_conflict_is_found_even_when_the_conflicting_record_comes_last() -> None:
    desired = ses_desired()
    assert desired[-1].record.name == DMARC
    # everything else would be a write; the conflict must still stop the whole plan
    with pytest.raises(ConflictError):
        plan_for([rec(DMARC, "CNAME", "dmarc.provider.example.net")], desired=desired)


@pytest.mark.parametrize(
    ("current", "action"),
    [
        ([], Action.CREATE),
        ([Record("track.example.com", "CNAME", "old.example.net", ref="c1")], Action.UPDATE),
        ([Record("track.example.com", "CNAME", "t.qcloudmail.com", ref="c1")], Action.UNCHANGED),
    ],
)
def test_ses_cname_is_exactly_ses_value(current: list[Record], action: Action) -> None:
    desired = records.desired(DOMAIN, [Attribute("CNAME", "track.example.com", "t.qcloudmail.com")])
    [c] = diff(DOMAIN, DOMAIN, desired, current).changes
    assert (c.action, c.record.value) == (action, "t.qcloudmail.com")
    assert c.record.ref == (current[0].ref if current else None)


def test_ses_a_record_is_exactly_ses_value() -> None:
    desired = records.desired(DOMAIN, [Attribute("A", "a.example.com", "192.0.2.7")])
    old = Record("a.example.com", "A", "192.0.2.1", ref="a1")
    [c] = diff(DOMAIN, DOMAIN, desired, [old]).changes
    assert (c.action, c.record.value, c.record.ref) == (Action.UPDATE, "192.0.2.7", "a1")


# --- records that are not SES's ----------------------------------------------------------------


def test_other_txt_values_at_the_same_name_are_kept() -> None:
    others = [
        rec(DOMAIN, "TXT", "google-site-verification=abc"),
        rec(DOMAIN, "TXT", "MS=ms12345"),
        rec(DMARC, "TXT", "unrelated=1"),
    ]
    plan = plan_for([*others, rec(DOMAIN, "TXT", "v=spf1 mx -all")])
    assert {c.action for c in plan.changes} == {Action.CREATE, Action.UPDATE}
    for write in plan.writes:
        assert write.record.value not in {o.value for o in others}
        assert write.existing not in others


def test_ses_plain_txt_is_added_beside_other_values() -> None:
    desired = records.desired(DOMAIN, [Attribute("TXT", DOMAIN, "qcloud-verification=123")])
    other = rec(DOMAIN, "TXT", "google-site-verification=abc")
    [c] = diff(DOMAIN, DOMAIN, desired, [other]).changes
    assert (c.action, c.kind, c.record.value, c.existing) == (Action.CREATE, Kind.TXT, "qcloud-verification=123", None)
    [again] = diff(DOMAIN, DOMAIN, desired, [other, replace(c.record, ref="n1")]).changes
    assert again.action is Action.UNCHANGED


def test_records_at_names_ses_did_not_name_are_never_written() -> None:
    nearby = [
        rec("mail.example.com", "MX", "mx.example.net"),
        rec("badexample.com", "TXT", "v=spf1 -all"),
        rec("other._domainkey.example.com", "TXT", OLD_DKIM_VALUE),
        rec("_dmarc.sub.example.com", "TXT", "v=DMARC1; p=reject"),
        rec("www.example.com", "CNAME", "example.com"),
    ]
    plan = plan_for(nearby)
    assert all(c.action is Action.CREATE for c in plan.changes)
    assert {c.record.name for c in plan.writes} == {DOMAIN, DKIM, DMARC}
    assert plan.current == tuple(nearby)


def test_a_fresh_zone_gets_all_four_records() -> None:
    plan = plan_for([])
    assert sorted((c.kind.value, c.action.value) for c in plan.changes) == [
        ("dkim", "create"),
        ("dmarc", "create"),
        ("mx", "create"),
        ("spf", "create"),
    ]
    assert (plan.domain, plan.zone, plan.warnings) == (DOMAIN, DOMAIN, ())


# --- properties --------------------------------------------------------------------------------


def apply(current: Sequence[Record], plan: Plan) -> list[Record]:
    """What a provider does with plan.writes: a create adds a record, an update replaces by ref."""
    after = list(current)
    created = itertools.count(1)
    for c in plan.writes:
        if c.action is Action.CREATE:
            assert c.record.ref is None
            after.append(replace(c.record, ref=f"new{next(created)}"))
        else:
            [index] = [i for i, r in enumerate(after) if r.ref == c.record.ref]
            after[index] = c.record
    return after


def maybe_upper(value: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(value, st.booleans()).map(lambda t: t[0].upper() if t[1] else t[0])


spf_value = maybe_upper(
    st.builds(
        lambda terms, ending: " ".join(["v=spf1", *terms, *ending]),
        st.lists(
            st.sampled_from(
                [
                    "include:_spf.google.com",
                    "mx",
                    "a",
                    "ip4:192.0.2.0/24",
                    "include:qcloudmail.com",
                    "+include:qcloudmail.com",
                ]
                + [f"include:s{i}.example.net" for i in range(11)]
            ),
            unique=True,
            max_size=12,
        ),
        st.sampled_from([["-all"], ["~all"], ["?all"], ["all"], ["redirect=_spf.example.net"], []]),
    )
)
other_txt = st.one_of(
    st.sampled_from(["google-site-verification=abc", "MS=ms1234", "v=DMARC1; p=reject", "hello world", DKIM_VALUE]),
    st.text(alphabet="abcXYZ=; -_", min_size=1, max_size=20),
).filter(lambda v: not spf.is_spf(v))
mx_host = st.sampled_from([SES_MX, "aspmx.l.google.com", "mx.example.net", "mxdomain.qq.com"])
nearby_name = st.sampled_from(
    [
        "mail.example.com",
        "badexample.com",
        "example.com.cn",
        "other._domainkey.example.com",
        "qcloud._domainkey.sub.example.com",
        "_dmarc.sub.example.com",
        "sub.example.com",
    ]
)
nearby_record = st.one_of(
    st.builds(lambda n, v: (n, "TXT", v, None), nearby_name, st.one_of(spf_value, other_txt)),
    st.builds(lambda n, v: (n, "MX", v, 10), nearby_name, mx_host),
    st.builds(lambda n: (n, "CNAME", "target.example.net", None), nearby_name),
    st.builds(lambda n: (n, "A", "192.0.2.1", None), nearby_name),
)


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[DesiredRecord], list[Record], bool]:
    """SES's desired records and a zone they can be planned against without a conflict."""
    selectors = draw(st.sampled_from([("qcloud",), ("qcloudgz2048",), ("qcloud", "qcloudgz2048")]))
    desired = ses_desired(selectors)
    draw(st.randoms()).shuffle(desired)
    replace_mx = draw(st.booleans())
    rows: list[tuple[str, str, str, int | None]] = []
    rows += [(DOMAIN, "TXT", v, None) for v in draw(st.lists(other_txt, max_size=3, unique=True))]
    rows += [(DOMAIN, "TXT", v, None) for v in draw(st.lists(spf_value, max_size=1))]
    hosts = draw(st.lists(mx_host, max_size=1 if replace_mx else 3, unique=True))
    rows += [(DOMAIN, "MX", h, draw(st.integers(0, 50))) for h in hosts]
    for selector in selectors:
        name = f"{selector}._domainkey.{DOMAIN}"
        dkim = draw(st.lists(st.sampled_from([f"{DKIM_VALUE}{selector}", OLD_DKIM_VALUE, DKIM_VALUE]), max_size=1))
        rows += [(name, "TXT", v, None) for v in dkim]
    rows += [(DMARC, "TXT", v, None) for v in draw(st.lists(st.one_of(other_txt, st.just(SES_DMARC)), max_size=2))]
    rows += draw(st.lists(nearby_record, max_size=6))
    rows = draw(st.permutations(rows))
    current = [Record(n, t, v, priority=p, ttl=600, ref=f"id{i}") for i, (n, t, v, p) in enumerate(rows)]
    return desired, current, replace_mx


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_plan_writes_only_at_ses_names_and_never_replaces_foreign_txt(case: tuple) -> None:
    desired, current, replace_mx = case
    plan = diff(DOMAIN, DOMAIN, desired, current, replace_mx=replace_mx)
    wanted = set(records.wanted_names(desired))
    assert len(plan.changes) == len(desired)
    for c in plan.writes:
        assert c.record.name in wanted
        if c.action is Action.UPDATE:
            assert c.existing in current
            assert c.record.ref == c.existing.ref
            assert (c.existing.name, c.existing.type) == (c.record.name, c.record.type)
            # at the domain, only the SPF record is ever replaced (other TXT values are kept)
            if c.existing.name == DOMAIN and c.existing.type == "TXT":
                assert spf.is_spf(c.existing.value)
            if c.kind is Kind.MX:
                assert replace_mx
    assert len({c.record.ref for c in plan.writes if c.action is Action.UPDATE}) == sum(
        1 for c in plan.writes if c.action is Action.UPDATE
    )


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_applying_the_plan_converges(case: tuple) -> None:
    desired, current, replace_mx = case
    plan = diff(DOMAIN, DOMAIN, desired, current, replace_mx=replace_mx)
    after = apply(current, plan)
    again = diff(DOMAIN, DOMAIN, desired, after, replace_mx=replace_mx)
    assert again.writes == []
    # records at names SES did not name are exactly as they were
    wanted = set(records.wanted_names(desired))
    assert [r for r in after if r.name not in wanted] == [r for r in current if r.name not in wanted]
    # no record that was there has gone
    refs_after = {r.ref for r in after}
    assert all(r.ref in refs_after for r in current)


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_a_name_never_ends_up_with_two_spf_records(case: tuple) -> None:
    desired, current, replace_mx = case
    plan = diff(DOMAIN, DOMAIN, desired, current, replace_mx=replace_mx)
    spf_writes = Counter(c.record.name for c in plan.writes if c.record.type == "TXT" and spf.is_spf(c.record.value))
    assert all(n == 1 for n in spf_writes.values())
    spf_after = Counter(r.name for r in apply(current, plan) if r.type == "TXT" and spf.is_spf(r.value))
    assert spf_after[DOMAIN] == 1
    for c in plan.changes:
        if c.kind is Kind.SPF:
            assert "include:qcloudmail.com" in c.record.value.lower()


@settings(max_examples=200, deadline=None)
@given(scenario())
def test_an_owners_dmarc_policy_is_never_joined_by_ses(case: tuple) -> None:
    desired, current, replace_mx = case
    plan = diff(DOMAIN, DOMAIN, desired, current, replace_mx=replace_mx)
    policies = [r for r in current if r.name == DMARC and r.value.upper().startswith("V=DMARC1")]
    dmarc = change(plan, Kind.DMARC)
    if policies:
        assert dmarc.action in (Action.KEPT, Action.UNCHANGED)
        assert dmarc.record in policies
    else:
        assert (dmarc.action, dmarc.record.value) == (Action.CREATE, SES_DMARC)
