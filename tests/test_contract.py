"""The provider contract (dnsbridge.testing.SCENARIOS) on every provider, through the CLI."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dnsbridge.testing import SCENARIOS, World
from tests.worlds import MemoryWorld, StoreWorld
from tests.worlds_cloudflare import CloudflareWorld
from tests.worlds_route53 import Route53World


@pytest.fixture
def memory_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install a third-party plugin the way pip would: a dist-info with an entry point."""
    dist = tmp_path / "dnsbridge_memory_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: dnsbridge-memory-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[dnsbridge.providers]\nmemory = dnsbridge.sandbox.memory:MemoryProvider\n")
    monkeypatch.syspath_prepend(str(tmp_path))


WORLDS: dict[str, Callable[[], StoreWorld]] = {
    "dnspod": StoreWorld,
    "cloudflare": CloudflareWorld,
    "route53": Route53World,
    "memory-plugin": MemoryWorld,
}


@pytest.fixture(params=sorted(WORLDS))
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    if request.param == "memory-plugin":
        request.getfixturevalue("memory_plugin")
    with WORLDS[request.param]() as w:
        yield w


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
def test_provider_contract(world: World, scenario: Callable[[World], None]) -> None:
    scenario(world)
