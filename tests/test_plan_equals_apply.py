"""Plan equals apply: over random zone states, the changes `plan -o json` prints are exactly the write
calls `onboard` then makes, read from what reached each provider's server."""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings

from dnsbridge.sandbox.faults import Request
from dnsbridge.sandbox.tencent import Identity
from dnsbridge.testing import run
from dnsbridge.txt import unquote
from tests.test_faults import provider_chaos, zone_rows
from tests.test_foreign import Seed, zone_contents
from tests.worlds import StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World

pytestmark = pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
}
_ZONES = itertools.count()
Write = tuple[str, str, str, str, int | None]  # action, name, type, logical value, priority
R53 = "{https://route53.amazonaws.com/doc/2013-04-01/}"


@pytest.fixture(scope="module", params=sorted(WORLDS))
def world(request: pytest.FixtureRequest) -> Iterator[StoreWorld]:
    with WORLDS[request.param]() as w:
        w.box.tencent.max_identities = 10_000
        yield w


def _host(value: str) -> str:
    return value.rstrip(".").lower()


def dnspod_writes(zone: str, requests: list[Request]) -> list[Write]:
    out: list[Write] = []
    for r in requests:
        p = json.loads(r.body)
        name = zone if p["SubDomain"] == "@" else f"{p['SubDomain']}.{zone}"
        value = p["Value"] if p["RecordType"] == "TXT" else _host(p["Value"])
        action = {"CreateRecord": "create", "ModifyRecord": "update"}[r.action]
        out.append((action, name, p["RecordType"], value, p.get("MX")))
    return out


def cloudflare_writes(requests: list[Request]) -> list[Write]:
    out: list[Write] = []
    for r in requests:
        body = json.loads(r.body)
        for key, action in (("posts", "create"), ("patches", "update")):
            for item in body.get(key) or []:
                value = unquote(item["content"]) if item["type"] == "TXT" else _host(item["content"])
                out.append((action, item["name"], item["type"], value, item.get("priority")))
    return out


def route53_sets(requests: list[Request]) -> dict[tuple[str, str], list[str]]:
    """(name, type) → the full value list each CREATE sent (Route 53 writes whole record sets; a
    set that was there is first DELETEd as read, in the same request)."""
    from providers.route53 import decode_txt

    out: dict[tuple[str, str], list[str]] = {}
    for r in requests:
        for change in ET.fromstring(r.body).iter(f"{R53}Change"):
            action = change.findtext(f"{R53}Action")
            assert action in ("DELETE", "CREATE")
            if action == "DELETE":
                continue
            rrset = change.find(f"{R53}ResourceRecordSet")
            assert rrset is not None
            name, rtype = _host(rrset.findtext(f"{R53}Name") or ""), rrset.findtext(f"{R53}Type") or ""
            values = [v.text or "" for v in rrset.iter(f"{R53}Value")]
            decoded = [decode_txt(v) if rtype == "TXT" else v.lower().rstrip(".") for v in values]
            out[(name, rtype)] = sorted(decoded)
    return out


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(contents=zone_contents())
def test_plan_prints_exactly_the_writes_onboard_makes(world: StoreWorld, contents: list[Seed]) -> None:
    zone = f"p{next(_ZONES)}.example.com"
    domain = f"mail.{zone}"
    world.add_zone(zone)
    for name, rtype, value, priority in contents:
        world.add(name.format(d=domain, z=zone), rtype, value, priority)
    world.box.tencent.identities[domain] = Identity(domain, "default", 1)  # plan reads SES's real attributes
    before = [r for r in zone_rows(world) if r[0].endswith(zone)]

    planned = run(world, "plan", domain, "-o", "json")
    assert planned.exit_code in (0, 1), planned.stderr
    entry = planned.document["domains"][0]
    plan: list[Write] = sorted(
        (r["action"], r["name"], r["type"], r["value"], r["priority"])
        for r in entry["records"]
        if r["action"] in ("create", "update")
    )
    chaos = provider_chaos(world)
    chaos.clear()
    done = run(world, "onboard", domain, "--no-wait", "-o", "json")
    assert done.exit_code == planned.exit_code, (planned.stderr, done.stderr)
    writes = [r for r in chaos.seen if r.write and r.service != "ses"]

    if isinstance(world, Route53World):
        previous = {(r["name"], r["type"], r["previous"]) for r in entry["records"] if r["action"] == "update"}
        expected: dict[tuple[str, str], list[str]] = {}
        for _, name, rtype, value, priority in plan:
            held = [
                (f"{p} {v}" if t == "MX" else v)
                for n, t, v, p in before
                if n == name and t == rtype and (n, t, v) not in previous
            ]
            new = f"{priority} {value}" if rtype == "MX" else value
            expected[(name, rtype)] = sorted({*held, *expected.get((name, rtype), []), new})
        assert route53_sets(writes) == expected, (route53_sets(writes), expected, before)
        assert len(writes) == (1 if plan else 0)
    elif isinstance(world, CloudflareWorld):
        assert sorted(cloudflare_writes(writes)) == plan
        assert len(writes) == (1 if plan else 0)  # one batch
    else:
        assert sorted(dnspod_writes(zone, writes)) == plan
