"""SES specifics: endpoints by region, temporary credentials, the verify loop's reporting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dnsbridge.errors import UsageError
from dnsbridge.records import Attribute
from dnsbridge.retry import Backoff, Deadline
from dnsbridge.sandbox.tc3 import Credentials
from dnsbridge.ses import Identity, endpoint_for
from dnsbridge.testing import run
from dnsbridge.verify import wait_verified
from tests.worlds import StoreWorld


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("ap-singapore", "ses.intl.tencentcloudapi.com"),
        ("ap-guangzhou", "ses.tencentcloudapi.com"),
        ("ap-hongkong", "ses.tencentcloudapi.com"),
    ],
)
def test_region_chooses_the_site(region: str, host: str) -> None:
    endpoint = endpoint_for(region, {})
    assert (endpoint.host, endpoint.protocol) == (host, "https")


def test_endpoint_override_accepts_plain_http() -> None:
    endpoint = endpoint_for("ap-singapore", {"DNSBRIDGE_SES_ENDPOINT": "http://127.0.0.1:9000"})
    assert (endpoint.host, endpoint.protocol) == ("127.0.0.1:9000", "http")


@pytest.mark.parametrize("bad", ["ftp://x", "http://", "http://host/path"])
def test_a_malformed_endpoint_is_bad_input(bad: str) -> None:
    with pytest.raises(UsageError):
        endpoint_for("ap-singapore", {"DNSBRIDGE_SES_ENDPOINT": bad})


@pytest.fixture
def world() -> Iterator[StoreWorld]:
    with StoreWorld() as w:
        w.add_zone("example.com")
        w.box.tencent.verifier.accounts["AKIDtemporary"] = Credentials("temp-key", token="session-token-1")
        yield w


def test_temporary_credentials_send_the_session_token(world: StoreWorld) -> None:
    env = {
        "TENCENTCLOUD_SECRET_ID": "AKIDtemporary",
        "TENCENTCLOUD_SECRET_KEY": "temp-key",
        "TENCENTCLOUD_SESSION_TOKEN": "session-token-1",
    }
    out = run(world, "onboard", "mail.example.com", "--no-wait", env=env)
    assert out.exit_code == 0, out.stderr


def test_a_wrong_session_token_is_an_auth_error_naming_it(world: StoreWorld) -> None:
    env = {
        "TENCENTCLOUD_SECRET_ID": "AKIDtemporary",
        "TENCENTCLOUD_SECRET_KEY": "temp-key",
        "TENCENTCLOUD_SESSION_TOKEN": "expired-token-9",
    }
    out = run(world, "onboard", "mail.example.com", env=env)
    assert out.exit_code == 1
    assert "session token" in out.stderr and "expired-token-9" not in out.stdout + out.stderr


class _FakeSes:
    """SES whose view of the records changes on given polls."""

    def __init__(self, views: list[tuple[bool, ...]]) -> None:
        self.views = views
        self.polls = 0

    def verify(self, domain: str, deadline: Deadline | None = None) -> Identity:
        view = self.views[min(self.polls, len(self.views) - 1)]
        self.polls += 1
        attributes = tuple(Attribute("TXT", f"{i}.{domain}", "v", status=s) for i, s in enumerate(view))
        return Identity(domain, all(view), attributes)


def test_verify_loop_reports_changes_only_and_stops_when_verified() -> None:
    ses = _FakeSes([(False, False)] * 3 + [(True, False)] * 3 + [(True, True)])
    changes: list[Identity] = []
    slept: list[float] = []
    result = wait_verified(
        ses,
        "d.test",
        Deadline(3600),
        backoff=Backoff(base=1, cap=4, floor=0.5),
        sleep=slept.append,
        on_change=changes.append,
    )
    assert result.verified and ses.polls == 7
    assert [sum(a.status for a in c.attributes) for c in changes] == [0, 1, 2]
    assert all(0.5 <= s <= 4 for s in slept) and slept[-1] >= 2  # backs off, within the cap


def test_verify_loop_gives_up_at_the_deadline() -> None:
    now = [0.0]
    deadline = Deadline(10, clock=lambda: now[0])

    def sleep(seconds: float) -> None:
        now[0] += seconds

    ses = _FakeSes([(False,)])
    result = wait_verified(ses, "d.test", deadline, backoff=Backoff(base=1, cap=4, floor=0.5), sleep=sleep)
    assert not result.verified
    assert now[0] <= 10 and ses.polls >= 3


def test_dkim_bits_of_an_existing_identity_are_reported_not_silently_ignored(world: StoreWorld) -> None:
    assert run(world, "onboard", "mail.example.com", "--no-wait", "--dkim-bits", "1024").exit_code == 0
    out = run(world, "onboard", "mail.example.com", "--no-wait", "--dkim-bits", "2048", "-o", "json")
    assert out.exit_code == 0
    assert any("1024-bit DKIM key" in n for n in out.document["domains"][0]["notes"])
