"""The Route 53 emulator refuses a ChangeResourceRecordSets batch as Route 53 does, before moto sees it.

Each batch is checked change by change against the zone's current sets and is all-or-nothing:
CREATE of an existing set, DELETE of a missing one, DELETE with other TTL or values are
InvalidChangeBatch with Route 53's own messages (moto 5.2 alone would duplicate the set, delete by
name and type only, or refuse a value order it didn't journal). Driven by a real boto3 client.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from dnsbridge.sandbox.faults import Fault, Kind, Once
from dnsbridge.sandbox.route53 import Route53Mirror
from dnsbridge.sandbox.zones import ZoneStore
from tests.worlds_route53 import _boto_args

WWW = "www.example.com"
LABEL = "[name='www.example.com.', type='TXT']"
_zones = itertools.count()


@pytest.fixture(scope="module")
def mirror() -> Iterator[Route53Mirror]:
    with Route53Mirror(ZoneStore()) as mirror:
        yield mirror


@pytest.fixture
def client(mirror: Route53Mirror) -> Any:
    mirror.reset()
    mirror.chaos.clear()
    return boto3.client("route53", endpoint_url=mirror.endpoint, **_boto_args())


@pytest.fixture
def zone(client: Any) -> str:
    reply = client.create_hosted_zone(Name="example.com", CallerReference=f"test-{next(_zones)}")
    return str(reply["HostedZone"]["Id"])


def rrset(values: list[str], *, ttl: int = 300, name: str = WWW, rtype: str = "TXT", **more: Any) -> dict[str, Any]:
    return {"Name": name, "Type": rtype, "TTL": ttl, "ResourceRecords": [{"Value": v} for v in values], **more}


def create(values: list[str], **kwargs: Any) -> dict[str, Any]:
    return {"Action": "CREATE", "ResourceRecordSet": rrset(values, **kwargs)}


def delete(values: list[str], **kwargs: Any) -> dict[str, Any]:
    return {"Action": "DELETE", "ResourceRecordSet": rrset(values, **kwargs)}


def upsert(values: list[str], **kwargs: Any) -> dict[str, Any]:
    return {"Action": "UPSERT", "ResourceRecordSet": rrset(values, **kwargs)}


def change(client: Any, zone: str, *changes: dict[str, Any]) -> None:
    client.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})


def refusal(client: Any, zone: str, *changes: dict[str, Any]) -> str:
    """The message of Route 53's InvalidChangeBatch for the batch (which must be refused)."""
    with pytest.raises(ClientError) as refused:
        change(client, zone, *changes)
    response = refused.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert response["ResponseMetadata"]["RequestId"]
    assert response["Error"]["Code"] == "InvalidChangeBatch"
    assert response["Error"]["Type"] == "Sender"
    return str(response["Error"]["Message"])


def sets(client: Any, zone: str) -> list[tuple[str, str, str | None, int | None, list[str]]]:
    """The zone's sets but its NS and SOA: (name, type, SetIdentifier, TTL, values as stored)."""
    listed = client.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    return [
        (s["Name"], s["Type"], s.get("SetIdentifier"), s.get("TTL"), [r["Value"] for r in s.get("ResourceRecords", [])])
        for s in listed
        if s["Type"] not in ("NS", "SOA")
    ]


def txt(values: list[str], name: str = WWW + ".", ttl: int = 300) -> tuple[str, str, None, int, list[str]]:
    return (name, "TXT", None, ttl, values)


# refused: nothing changes ------------------------------------------------------------------
REFUSED = [
    pytest.param(
        [create(['"a"'])],
        [create(['"b"'])],
        f"Tried to create resource record set {LABEL} but it already exists",
        id="create-existing",
    ),
    pytest.param(
        [create(['"a"'])],
        [create(['"a"'], name="WWW.Example.COM.")],
        f"Tried to create resource record set {LABEL} but it already exists",
        id="create-existing-other-case-and-dot",
    ),
    pytest.param(
        [create(["192.0.2.1"], rtype="A")],
        [delete(['"a"'])],
        f"Tried to delete resource record set {LABEL} but it was not found",
        id="delete-not-found",
    ),
    pytest.param(
        [create(['"a"'], ttl=300)],
        [delete(['"a"'], ttl=60)],
        f"Tried to delete resource record set {LABEL} but the values provided do not match the current values",
        id="delete-other-ttl",
    ),
    pytest.param(
        [create(['"a"', '"b"'])],
        [delete(['"a"'])],
        f"Tried to delete resource record set {LABEL} but the values provided do not match the current values",
        id="delete-fewer-values",
    ),
    pytest.param(
        [create(['"a"', '"b"'])],
        [delete(['"a"', '"c"'])],
        f"Tried to delete resource record set {LABEL} but the values provided do not match the current values",
        id="delete-other-values",
    ),
    pytest.param(
        [create(['"a"'])],
        [delete(['"a"']), delete(['"a"'])],
        f"Tried to delete resource record set {LABEL} but it was not found",
        id="delete-twice",
    ),
    pytest.param(  # all-or-nothing: the first change, fine on its own, is not applied
        [create(['"a"'])],
        [create(['"x"'], name="other.example.com"), create(['"b"'])],
        f"Tried to create resource record set {LABEL} but it already exists",
        id="second-change-fails",
    ),
    pytest.param(  # the CAS lost: someone changed the set since it was read
        [create(['"b"'])],
        [delete(['"a"']), create(['"c"'])],
        f"Tried to delete resource record set {LABEL} but the values provided do not match the current values",
        id="compare-and-swap-lost",
    ),
    pytest.param(
        [create(["192.0.2.1"], rtype="A", SetIdentifier="blue", Weight=10)],
        [create(["192.0.2.2"], rtype="A", SetIdentifier="blue", Weight=20)],
        "Tried to create resource record set [name='www.example.com.', type='A', set-identifier='blue'] "
        "but it already exists",
        id="create-existing-routing-set",
    ),
    pytest.param(  # moto would apply the first change before it finds the second's name wrong
        [],
        [create(['"a"']), create(['"x"'], name="www.example.org")],
        "RRSet with DNS name www.example.org. is not permitted in zone example.com.",
        id="name-outside-zone",
    ),
]


@pytest.mark.parametrize(("setup", "batch", "message"), REFUSED)
def test_refused_batch_changes_nothing(
    mirror: Route53Mirror,
    client: Any,
    zone: str,
    setup: list[dict[str, Any]],
    batch: list[dict[str, Any]],
    message: str,
) -> None:
    if setup:
        change(client, zone, *setup)
    before, posts = sets(client, zone), mirror.count("POST", "/rrset")
    assert refusal(client, zone, *batch) == message
    assert sets(client, zone) == before
    assert mirror.count("POST", "/rrset") == posts + 1  # the refused request, logged once


def test_refused_batch_never_reaches_the_mirrored_zone(mirror: Route53Mirror, client: Any, zone: str) -> None:
    change(client, zone, create(['"a"']))
    refusal(client, zone, create(['"x"'], name="other.example.com"), create(['"b"']))
    mirror.sync()
    assert [(r.name, r.value) for r in mirror.store.records("example.com", rtype="TXT")] == [(WWW, '"a"')]


# accepted ----------------------------------------------------------------------------------
ACCEPTED = [
    pytest.param(
        [create(['"a"', '"b"', '"c"'])],
        [delete(['"c"', '"a"', '"b"'])],
        [],
        id="delete-same-values-other-order",
    ),
    pytest.param(
        [create(['"a"'])],
        [delete(['"a"']), create(['"b"'])],
        [txt(['"b"'])],
        id="compare-and-swap",
    ),
    pytest.param(  # moto alone calls the CREATE of a value it journalled before a duplicate
        [create(['"a"']), create(['"z"'], name="zzz.example.com")],
        [delete(['"a"']), create(['"b"']), delete(['"b"']), create(['"a"'])],
        [txt(['"a"']), txt(['"z"'], name="zzz.example.com.")],
        id="compare-and-swap-back-to-an-old-value",
    ),
    pytest.param(
        [],
        [create(['"a"']), delete(['"a"'])],
        [],
        id="create-then-delete-in-one-batch",
    ),
    pytest.param(  # moto names sets literally; Route 53 (and the check) without case or dot
        [create(['"a"'], name="WWW.example.com")],
        [delete(['"a"'], name="www.example.com."), create(['"b"'])],
        [txt(['"b"'])],
        id="compare-and-swap-other-case",
    ),
    pytest.param(
        [create(['"a"'])],
        [upsert(['"b"', '"c"'], ttl=60)],
        [txt(['"b"', '"c"'], ttl=60)],
        id="upsert-replaces",
    ),
    pytest.param(
        [],
        [upsert(['"a"']), upsert(['"b"'])],
        [txt(['"b"'])],
        id="upsert-creates",
    ),
    pytest.param(
        [create(['"a"'])],
        [upsert(['"b"'], name="WWW.example.com")],
        [txt(['"b"'])],
        id="upsert-other-case",
    ),
]


@pytest.mark.parametrize(("setup", "batch", "after"), ACCEPTED)
def test_accepted_batch(
    client: Any,
    zone: str,
    setup: list[dict[str, Any]],
    batch: list[dict[str, Any]],
    after: list[tuple[str, str, None, int, list[str]]],
) -> None:
    if setup:
        change(client, zone, *setup)
    change(client, zone, *batch)
    assert sets(client, zone) == after


def test_deleting_an_alias_set_compares_its_target(client: Any, zone: str) -> None:
    def alias(action: str, dns_name: str) -> dict[str, Any]:
        target = {"HostedZoneId": "Z2FDTNDATAQYW2", "DNSName": dns_name, "EvaluateTargetHealth": False}
        return {"Action": action, "ResourceRecordSet": {"Name": WWW, "Type": "A", "AliasTarget": target}}

    change(client, zone, alias("CREATE", "d111111abcdef8.cloudfront.net"))
    assert refusal(client, zone, alias("DELETE", "d222222abcdef8.cloudfront.net")) == (
        "Tried to delete resource record set [name='www.example.com.', type='A'] "
        "but the values provided do not match the current values"
    )
    change(client, zone, alias("DELETE", "D111111ABCDEF8.cloudfront.net."))
    assert sets(client, zone) == []


# concurrency and lost replies --------------------------------------------------------------
def test_concurrent_compare_and_swaps_one_wins_per_round(mirror: Route53Mirror, zone: str) -> None:
    threads, rounds = 6, 5
    clients = [boto3.client("route53", endpoint_url=mirror.endpoint, **_boto_args()) for _ in range(threads)]
    change(clients[0], zone, create(['"v0"']))
    mismatch = f"Tried to delete resource record set {LABEL} but the values provided do not match the current values"
    for n in range(rounds):
        (read,) = sets(clients[0], zone)  # every thread swaps from this same read
        won, lost = swap_all(clients, zone, read[4], [f'"r{n}-t{i}"' for i in range(threads)])
        assert len(won) == 1, (won, lost)
        assert lost == [f"InvalidChangeBatch: {mismatch}"] * (threads - 1)
        assert sets(clients[0], zone) == [txt([won[0]])]


def swap_all(clients: list[Any], zone: str, old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """Each client, at once, swaps `old` for its own value: (the values that won, why the others lost)."""
    start = threading.Barrier(len(clients))
    won: list[str] = []
    lost: list[str] = []
    lock = threading.Lock()

    def swap(client: Any, value: str) -> None:
        start.wait()
        try:
            change(client, zone, delete(old), create([value]))
        except ClientError as e:
            with lock:
                lost.append(f"{e.response['Error']['Code']}: {e.response['Error']['Message']}")
        else:
            with lock:
                won.append(value)

    workers = [threading.Thread(target=swap, args=pair) for pair in zip(clients, new, strict=True)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return won, lost


@pytest.mark.parametrize(
    ("batch", "after"),
    [
        pytest.param([create(['"b"'])], [txt(['"a"'])], id="refused"),
        pytest.param([delete(['"a"']), create(['"b"'])], [txt(['"b"'])], id="accepted"),
    ],
)
def test_a_lost_reply_does_what_route53_would(
    mirror: Route53Mirror,
    zone: str,
    batch: list[dict[str, Any]],
    after: list[tuple[str, str, None, int, list[str]]],
) -> None:
    once = boto3.client(
        "route53", endpoint_url=mirror.endpoint, config=Config(retries={"total_max_attempts": 1}), **_boto_args()
    )
    change(once, zone, create(['"a"']))
    mirror.chaos.add(Once(Fault(Kind.LOST_REPLY), match=lambda r: r.action == "ChangeResourceRecordSets"))
    with pytest.raises(ConnectionClosedError):
        change(once, zone, *batch)
    assert mirror.chaos.count(Kind.LOST_REPLY) == 1
    assert sets(once, zone) == after


def test_each_change_gets_its_own_id_and_each_is_insync(client: Any, zone: str) -> None:
    # moto alone answers every change with one fixed id; Route 53 gives each its own.
    ids = []
    for value in ('"one"', '"two"'):
        reply = client.change_resource_record_sets(
            HostedZoneId=zone, ChangeBatch={"Changes": [upsert([value], name=f"id{len(ids)}.{WWW}")]}
        )
        ids.append(reply["ChangeInfo"]["Id"])
    assert len(set(ids)) == 2
    assert all(i.startswith("/change/C") and len(i) == len("/change/C2682N5HXP0BZ4") for i in ids)
    assert all(client.get_change(Id=i)["ChangeInfo"]["Status"] == "INSYNC" for i in ids)
