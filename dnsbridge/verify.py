"""Asking SES to verify, until it says yes or the deadline passes.

UpdateEmailIdentity makes SES look at DNS again. SES documents 5 minutes to 2 hours before it
sees new records, so polls back off exponentially (with jitter, so many runs don't ask in step)
up to a minute apart, and the last poll lands just before the deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from dnsbridge.records import Attribute
from dnsbridge.retry import Backoff, Deadline
from dnsbridge.ses import Identity

_MARGIN = 0.05  # seconds kept before the deadline for the last poll's own round trip


class Verifier(Protocol):
    def verify(self, domain: str, deadline: Deadline | None = None) -> Identity: ...


def not_seen(identity: Identity) -> list[Attribute]:
    return [a for a in identity.attributes if not a.status]


def wait_verified(
    ses: Verifier,
    domain: str,
    deadline: Deadline,
    *,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_change: Callable[[Identity], None] | None = None,
) -> Identity:
    """Poll until verified or the deadline; `on_change` fires only when SES's view changes."""
    backoff = backoff or Backoff(base=2.0, cap=60.0, floor=0.5)
    attempt = 0
    seen: tuple[tuple[str, str, bool, str], ...] | None = None
    last = False
    while True:
        identity = ses.verify(domain, deadline)
        view = tuple((a.send_domain, a.type, a.status, a.current_value) for a in identity.attributes)
        if on_change and view != seen:
            on_change(identity)
        seen = view
        remaining = deadline.remaining() - _MARGIN
        if identity.verified or last or remaining <= 0:
            return identity
        delay = backoff.delay(attempt)
        if delay >= remaining:
            # The next poll would land past the deadline: make it the last one, just before it.
            delay, last = remaining, True
        sleep(delay)
        attempt += 1
