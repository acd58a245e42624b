"""The Cloudflare emulator, driven through the official `cloudflare` SDK over 127.0.0.1.

Each test pins one behaviour of the real API that dnsbridge's Cloudflare provider relies on.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator

import cloudflare
import pytest
from cloudflare import Cloudflare
from cloudflare.types.dns.record_response import MXRecord, TXTRecord

from dnsbridge.sandbox.cloudflare import DNS_READ, CloudflareEmulator, TokenSpec
from dnsbridge.sandbox.zones import StoredRecord, StoredZone, ZoneStore

TOKEN = "t" * 40
ZONE = "example.com"


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def _no_cloudflare_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # CLOUDFLARE_EMAIL would switch the SDK to email + key auth; keep the tests hermetic.
    for name in ("CLOUDFLARE_EMAIL", "CLOUDFLARE_API_KEY", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def store() -> ZoneStore:
    return ZoneStore()


@pytest.fixture
def emu(store: ZoneStore) -> Iterator[CloudflareEmulator]:
    with CloudflareEmulator(store, {TOKEN: TokenSpec(), "reader": {DNS_READ}}) as emulator:
        yield emulator


@pytest.fixture
def zone(emu: CloudflareEmulator) -> StoredZone:
    return emu.add_zone(ZONE)


_clients: list[Cloudflare] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _clients:
        _clients.pop().close()


def client(emu: CloudflareEmulator, token: str = TOKEN, retries: int = 0) -> Cloudflare:
    sdk = Cloudflare(api_token=token, base_url=emu.base_url, max_retries=retries)
    _clients.append(sdk)
    return sdk


def codes(err: cloudflare.APIStatusError) -> list[int | None]:
    return [e.code for e in err.errors]


# zones ----------------------------------------------------------------------------------------
def test_zones_list_filters_by_exact_name_and_shows_only_cloudflare_zones(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    emu.add_zone("sub.example.com")
    store.add_zone("other.com", "dnspod")

    found = list(client(emu).zones.list(name=ZONE))

    assert [(z.id, z.name, z.status) for z in found] == [(zone.id, ZONE, "active")]
    assert len(zone.id) == 32
    assert [z.name for z in client(emu).zones.list()] == ["example.com", "sub.example.com"]
    assert list(client(emu).zones.list(name="other.com")) == []


def test_zone_get_and_unknown_zone_is_404_7003(emu: CloudflareEmulator, zone: StoredZone) -> None:
    got = client(emu).zones.get(zone_id=zone.id)
    assert got is not None and got.name == ZONE and got.name_servers

    with pytest.raises(cloudflare.NotFoundError) as caught:
        client(emu).zones.get(zone_id="0" * 32)
    assert codes(caught.value) == [7003]


def test_token_scoped_to_other_zones_neither_lists_nor_reads_this_one(
    store: ZoneStore,
) -> None:
    with CloudflareEmulator(store, {TOKEN: TokenSpec(zones=frozenset({"other.com"}))}) as emu:
        zone = emu.add_zone(ZONE)
        emu.add_zone("other.com")
        assert [z.name for z in client(emu).zones.list()] == ["other.com"]
        with pytest.raises(cloudflare.PermissionDeniedError) as caught:
            list(client(emu).dns.records.list(zone_id=zone.id))
        assert codes(caught.value) == [10000]


# authentication ---------------------------------------------------------------------------------
def test_unknown_token_is_401_authentication_error(emu: CloudflareEmulator, zone: StoredZone) -> None:
    with pytest.raises(cloudflare.AuthenticationError) as caught:
        list(client(emu, token="wrong").zones.list())
    assert caught.value.status_code == 401
    assert codes(caught.value) == [10000]
    assert caught.value.errors[0].message == "Authentication error"


def test_read_only_token_cannot_write(emu: CloudflareEmulator, zone: StoredZone) -> None:
    assert list(client(emu, token="reader").dns.records.list(zone_id=zone.id)) == []
    with pytest.raises(cloudflare.PermissionDeniedError) as caught:
        client(emu, token="reader").dns.records.create(zone_id=zone.id, name=ZONE, type="TXT", content='"x"', ttl=1)
    assert codes(caught.value) == [10000]


def test_email_and_key_auth_with_a_token_is_rejected_as_bad_headers(emu: CloudflareEmulator, zone: StoredZone) -> None:
    # What happens when CLOUDFLARE_EMAIL is set: the SDK sends the token as X-Auth-Key.
    sdk = Cloudflare(api_email="me@example.com", api_key=TOKEN, base_url=emu.base_url, max_retries=0)
    _clients.append(sdk)
    with pytest.raises(cloudflare.BadRequestError) as caught:
        list(sdk.zones.list())
    assert codes(caught.value) == [6003]


# records ----------------------------------------------------------------------------------------
def test_created_record_has_the_fields_the_sdk_model_expects(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    sdk = client(emu)
    txt = sdk.dns.records.create(zone_id=zone.id, name="@", type="TXT", content='"v=spf1 -all"', ttl=1)
    mx = sdk.dns.records.create(zone_id=zone.id, name=ZONE, type="MX", content="mx.example.net.", priority=10, ttl=600)
    a = sdk.dns.records.create(zone_id=zone.id, name="www", type="A", content="192.0.2.1", ttl=1, proxied=True)

    assert txt is not None and mx is not None and a is not None
    assert len(txt.id) == 32 and int(txt.id, 16) >= 0
    assert (txt.name, txt.type, txt.content, txt.ttl, txt.proxiable, txt.proxied) == (
        ZONE,
        "TXT",
        '"v=spf1 -all"',
        1,
        False,
        False,
    )
    assert txt.created_on is not None and txt.meta is not None
    assert isinstance(mx, MXRecord) and (mx.content, mx.priority) == ("mx.example.net", 10)
    assert (a.name, a.proxiable, a.proxied) == ("www.example.com", True, True)
    assert {(r.name, r.type, r.value, r.ttl, r.priority) for r in store.records(ZONE)} == {
        (ZONE, "TXT", '"v=spf1 -all"', 300, None),
        (ZONE, "MX", "mx.example.net", 600, 10),
        ("www.example.com", "A", "192.0.2.1", 300, None),
    }


def test_records_list_walks_every_page_until_an_empty_page(emu: CloudflareEmulator, zone: StoredZone) -> None:
    sdk = client(emu)
    for i in range(12):
        sdk.dns.records.create(zone_id=zone.id, name="_dmarc", type="TXT", content=f'"value {i}"', ttl=1)
    sdk.dns.records.create(zone_id=zone.id, name="other", type="TXT", content='"noise"', ttl=1)
    sdk.dns.records.create(zone_id=zone.id, name="_dmarc", type="MX", content="mx.example.net", priority=1, ttl=1)

    pages = sdk.dns.records.list(zone_id=zone.id, name={"exact": "_dmarc.example.com"}, type="TXT", per_page=5)
    found = list(itertools.islice(pages, 50))  # bounded: a pagination bug fails instead of hanging

    assert [r.content for r in found] == [f'"value {i}"' for i in range(12)]
    lists = [c for c in emu.calls if c.method == "GET" and c.path.endswith("/dns_records")]
    assert [c.query.get("page") for c in lists] == [None, "2", "3", "4"]  # page 4 is the empty one
    assert all(c.query["name.exact"] == "_dmarc.example.com" and c.query["type"] == "TXT" for c in lists)


def test_list_reports_result_info(emu: CloudflareEmulator, zone: StoredZone) -> None:
    sdk = client(emu)
    for i in range(7):
        sdk.dns.records.create(zone_id=zone.id, name=f"h{i}", type="A", content=f"192.0.2.{i}", ttl=1)
    page = sdk.dns.records.list(zone_id=zone.id, per_page=5, page=2)
    info = page.result_info
    assert info is not None
    assert (info.page, info.per_page) == (2, 5)
    # The SDK's model declares only page/per_page; the other fields arrive as extras.
    assert page.model_dump()["result_info"] == {
        "page": 2,
        "per_page": 5,
        "count": 2,
        "total_count": 7,
        "total_pages": 2,
    }
    assert [r.name for r in page.result] == ["h5.example.com", "h6.example.com"]


def test_edit_update_and_delete(emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone) -> None:
    sdk = client(emu)
    rec = sdk.dns.records.create(zone_id=zone.id, name="_dmarc", type="TXT", content='"v=DMARC1; p=none"', ttl=1)
    assert rec is not None

    # The SDK insists on name/type/ttl even for PATCH; the API merges whatever is sent.
    edited = sdk.dns.records.edit(
        rec.id, zone_id=zone.id, name="_dmarc", type="TXT", ttl=1, content='"v=DMARC1; p=reject"', comment="policy"
    )
    assert isinstance(edited, TXTRecord)
    assert (edited.content, edited.comment) == ('"v=DMARC1; p=reject"', "policy")
    updated = sdk.dns.records.update(rec.id, zone_id=zone.id, name="_dmarc", type="TXT", content='"x"', ttl=3600)
    assert isinstance(updated, TXTRecord) and (updated.id, updated.content, updated.ttl) == (rec.id, '"x"', 3600)
    assert updated.comment is None  # PUT replaces the whole record
    got = sdk.dns.records.get(rec.id, zone_id=zone.id)
    assert got is not None and got.content == '"x"'
    assert [r.value for r in store.records(ZONE)] == ['"x"']

    deleted = sdk.dns.records.delete(rec.id, zone_id=zone.id)
    assert deleted is not None and deleted.id == rec.id
    assert store.records(ZONE) == []
    with pytest.raises(cloudflare.NotFoundError) as caught:
        sdk.dns.records.get(rec.id, zone_id=zone.id)
    assert codes(caught.value) == [81044]


def test_records_seeded_in_the_store_are_visible_with_stable_ids(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    stored = store.add(ZONE, StoredRecord(id=0, name=ZONE, type="TXT", value='"google-site-verification=abc"'))
    first = list(client(emu).dns.records.list(zone_id=zone.id))
    second = list(client(emu).dns.records.list(zone_id=zone.id))
    assert [r.content for r in first] == ['"google-site-verification=abc"']
    assert first[0].id == second[0].id == emu.record_id(ZONE, stored.id)


def test_identical_record_is_400_with_code_81058(emu: CloudflareEmulator, zone: StoredZone) -> None:
    sdk = client(emu)
    sdk.dns.records.create(zone_id=zone.id, name=ZONE, type="TXT", content='"v=spf1 -all"', ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as caught:
        sdk.dns.records.create(zone_id=zone.id, name="@", type="TXT", content='"v=spf1 -all"', ttl=300)
    assert caught.value.status_code == 400
    assert codes(caught.value) == [81058]
    assert caught.value.errors[0].message == "An identical record already exists."


def test_cname_conflicts_are_81053_and_81054(emu: CloudflareEmulator, zone: StoredZone) -> None:
    sdk = client(emu)
    sdk.dns.records.create(zone_id=zone.id, name="a", type="TXT", content='"x"', ttl=1)
    sdk.dns.records.create(zone_id=zone.id, name="b", type="CNAME", content="target.example.net", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as cname_on_data:
        sdk.dns.records.create(zone_id=zone.id, name="a", type="CNAME", content="target.example.net", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as data_on_cname:
        sdk.dns.records.create(zone_id=zone.id, name="b", type="TXT", content='"x"', ttl=1)
    assert codes(cname_on_data.value) == [81053]
    assert codes(data_on_cname.value) == [81054]


def test_invalid_ttl_and_content_are_400(emu: CloudflareEmulator, zone: StoredZone) -> None:
    sdk = client(emu)
    with pytest.raises(cloudflare.BadRequestError) as bad_ttl:
        sdk.dns.records.create(zone_id=zone.id, name="x", type="TXT", content='"x"', ttl=5)
    with pytest.raises(cloudflare.BadRequestError) as bad_a:
        sdk.dns.records.create(zone_id=zone.id, name="x", type="A", content="not-an-ip", ttl=1)
    with pytest.raises(cloudflare.BadRequestError) as proxied_txt:
        sdk.dns.records.create(zone_id=zone.id, name="x", type="TXT", content='"x"', ttl=1, proxied=True)
    assert codes(bad_ttl.value) == [1004]
    assert bad_ttl.value.response.json()["errors"][0]["error_chain"][0]["code"] == 9021
    assert codes(bad_a.value) == [9005]
    assert codes(proxied_txt.value) == [9004]


# TXT content ------------------------------------------------------------------------------------
def test_txt_over_2048_characters_is_rejected_and_2048_is_accepted(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    sdk = client(emu)
    with pytest.raises(cloudflare.BadRequestError) as caught:
        sdk.dns.records.create(zone_id=zone.id, name="big", type="TXT", content="a" * 2049, ttl=1)
    assert codes(caught.value) == [1004]
    assert store.records(ZONE) == []
    ok = sdk.dns.records.create(zone_id=zone.id, name="big", type="TXT", content="a" * 2048, ttl=1)
    assert ok is not None and ok.content == "a" * 2048


def test_long_unquoted_txt_is_returned_as_sent_and_stored_as_255_octet_strings(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    key = "v=DKIM1; k=rsa; p=" + "A" * 582  # 600 characters, like a 2048-bit DKIM key
    rec = client(emu).dns.records.create(zone_id=zone.id, name="qcloud._domainkey", type="TXT", content=key, ttl=1)
    assert rec is not None and rec.content == key
    (stored,) = store.records(ZONE)
    assert stored.value == f'"{key[:255]}" "{key[255:510]}" "{key[510:]}"'


def test_long_quoted_txt_comes_back_split_into_255_octet_strings(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    key = "v=DKIM1; k=rsa; p=" + "B" * 582
    sdk = client(emu)
    rec = sdk.dns.records.create(zone_id=zone.id, name="qcloud._domainkey", type="TXT", content=f'"{key}"', ttl=1)
    split = f'"{key[:255]}" "{key[255:510]}" "{key[510:]}"'
    assert rec is not None and rec.content == split
    listed = list(sdk.dns.records.list(zone_id=zone.id, name={"exact": "qcloud._domainkey.example.com"}, type="TXT"))
    assert [r.content for r in listed] == [split]
    assert [r.value for r in store.records(ZONE)] == [split]


def test_quoted_txt_with_escapes_keeps_valid_presentation_form(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    content = r'"say \"hi\"" "back\\slash"'
    rec = client(emu).dns.records.create(zone_id=zone.id, name="q", type="TXT", content=content, ttl=1)
    assert rec is not None and rec.content == content
    assert [r.value for r in store.records(ZONE)] == [content]


# batch --------------------------------------------------------------------------------------------
def test_batch_runs_deletes_patches_puts_posts_in_that_order(
    emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone
) -> None:
    sdk = client(emu)
    old = sdk.dns.records.create(zone_id=zone.id, name=ZONE, type="TXT", content='"v=spf1 -all"', ttl=1)
    dmarc = sdk.dns.records.create(zone_id=zone.id, name="_dmarc", type="TXT", content='"v=DMARC1; p=none"', ttl=1)
    assert old is not None and dmarc is not None

    result = sdk.dns.records.batch(
        zone_id=zone.id,
        deletes=[{"id": old.id}],
        patches=[{"id": dmarc.id, "name": "_dmarc", "type": "TXT", "ttl": 1, "content": '"v=DMARC1; p=quarantine"'}],
        # Only valid because the delete runs first: otherwise an identical record exists.
        posts=[{"name": ZONE, "type": "TXT", "content": '"v=spf1 -all"', "ttl": 1}],
    )

    assert result is not None
    assert [r.id for r in result.deletes or []] == [old.id]
    assert [r.content for r in result.patches or []] == ['"v=DMARC1; p=quarantine"']
    assert [r.content for r in result.posts or []] == ['"v=spf1 -all"']
    assert result.puts == []
    assert sorted(r.value for r in store.records(ZONE)) == ['"v=DMARC1; p=quarantine"', '"v=spf1 -all"']
    (call,) = [c for c in emu.calls if c.path.endswith("/batch")]
    assert call.method == "POST" and set(call.body) == {"deletes", "patches", "posts"}


def test_batch_is_all_or_nothing(emu: CloudflareEmulator, store: ZoneStore, zone: StoredZone) -> None:
    sdk = client(emu)
    keep = sdk.dns.records.create(zone_id=zone.id, name=ZONE, type="TXT", content='"keep"', ttl=1)
    assert keep is not None
    before = store.records(ZONE)

    with pytest.raises(cloudflare.BadRequestError) as caught:
        sdk.dns.records.batch(
            zone_id=zone.id,
            deletes=[{"id": keep.id}],
            posts=[
                {"name": "new", "type": "TXT", "content": '"fresh"', "ttl": 1},
                {"name": "new", "type": "TXT", "content": '"fresh"', "ttl": 1},  # identical to the one above
            ],
        )

    assert codes(caught.value) == [81058]
    assert caught.value.errors[0].source is not None and caught.value.errors[0].source.pointer == "/posts/1"
    assert store.records(ZONE) == before


# throttling and faults ---------------------------------------------------------------------------
def test_rate_limit_answers_429_with_retry_after_until_the_window_passes(store: ZoneStore) -> None:
    clock = FakeClock()
    with CloudflareEmulator(store, {TOKEN: TokenSpec()}, rate_limit=(3, 300.0), clock=clock) as emu:
        sdk = client(emu)
        for _ in range(3):
            list(sdk.zones.list())
        with pytest.raises(cloudflare.RateLimitError) as caught:
            list(sdk.zones.list())
        assert codes(caught.value) == [971]
        assert caught.value.response.headers["retry-after"] == "300"
        clock.now += 299
        with pytest.raises(cloudflare.RateLimitError):
            list(sdk.zones.list())
        clock.now += 2
        assert list(sdk.zones.list()) == []


def test_sdk_retry_honours_retry_after_from_the_rate_limiter(store: ZoneStore) -> None:
    with CloudflareEmulator(store, {TOKEN: TokenSpec()}, rate_limit=(1, 1.0)) as emu:
        zone = emu.add_zone(ZONE)
        sdk = client(emu, retries=2)
        sdk.zones.get(zone_id=zone.id)
        started = time.monotonic()
        got = sdk.zones.get(zone_id=zone.id)  # 429 retry-after: 1, then success
        elapsed = time.monotonic() - started
    assert got is not None and got.id == zone.id
    assert emu.count("GET", f"/zones/{zone.id}") == 3
    # The SDK's own first backoff is at most 0.5 s; waiting ~1 s means it obeyed retry-after.
    assert 0.9 <= elapsed < 3


def test_injected_429_is_retried_after_the_given_delay(emu: CloudflareEmulator, zone: StoredZone) -> None:
    emu.inject(429, 971, retry_after=0.2)
    started = time.monotonic()
    assert [z.name for z in client(emu, retries=1).zones.list()] == [ZONE]
    assert 0.15 <= time.monotonic() - started < 2
    assert emu.count("GET", "/zones") == 3  # the 429, its retry, the empty page


def test_injected_faults_fail_the_next_requests_only(emu: CloudflareEmulator, zone: StoredZone) -> None:
    emu.inject(500, 1000, "boom", times=2, path_suffix="/dns_records")
    sdk = client(emu)
    for _ in range(2):
        with pytest.raises(cloudflare.InternalServerError) as caught:
            list(sdk.dns.records.list(zone_id=zone.id))
        assert codes(caught.value) == [1000]
    assert list(sdk.dns.records.list(zone_id=zone.id)) == []
    assert emu.count(path_suffix="/dns_records") == 3


def test_stop_closes_the_port(store: ZoneStore) -> None:
    emu = CloudflareEmulator(store, {TOKEN: TokenSpec()}).start()
    sdk = client(emu)
    list(sdk.zones.list())
    emu.stop()
    with pytest.raises(cloudflare.APIConnectionError):
        list(sdk.zones.list())
