"""Merging SES's SPF terms into the one SPF record a name may have.

RFC 7208 §4.5: more than one `v=spf1` record at a name is a permanent error, so receivers would
reject mail from every sender at that domain. A second record is therefore never created; SES's
`include:` terms are merged into the record that is there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DNS_LOOKUPS = 10  # RFC 7208 §4.6.4
_VERSION = re.compile(r"^v=spf1(\s|$)", re.IGNORECASE)
# Terms that cost a DNS lookup when evaluated (RFC 7208 §4.6.4). `all`, ip4, ip6, exp don't.
_LOOKUP_TERM = re.compile(r"^[+?~-]?(include|a|mx|ptr|exists)([:/]|$)|^redirect=", re.IGNORECASE)
_ALL = re.compile(r"^[+?~-]?all$", re.IGNORECASE)


def is_spf(value: str) -> bool:
    return bool(_VERSION.match(value.strip()))


@dataclass(frozen=True)
class SpfMerge:
    value: str
    changed: bool
    lookups: int

    @property
    def too_many_lookups(self) -> bool:
        return self.lookups > MAX_DNS_LOOKUPS


def terms(value: str) -> list[str]:
    return value.split()[1:]


def lookup_count(value: str) -> int:
    """DNS-querying terms in this record alone (included records' own lookups can't be seen here)."""
    return sum(1 for term in terms(value) if _LOOKUP_TERM.match(term))


def merge(existing: str, wanted: str) -> SpfMerge:
    """`existing` plus every mechanism of `wanted` it lacks, inserted before its `all` term.

    The existing record's other terms, their order, and its `all` qualifier (or its `redirect=`)
    are kept: the owner's policy for other senders wins. Terms compare case-insensitively and
    without a `+` qualifier, since `+include:x` and `include:x` mean the same.
    """
    have = terms(existing)
    have_keys = {_key(t) for t in have}
    missing: list[str] = []
    for t in terms(wanted):
        if not _ALL.match(t) and _key(t) not in have_keys:
            missing.append(t)
            have_keys.add(_key(t))
    if not missing:
        return SpfMerge(existing, changed=False, lookups=lookup_count(existing))
    # Insert before `all` if present, else before a trailing `redirect=` (a modifier that only
    # applies when no mechanism matched), else at the end.
    position = next(
        (i for i, t in enumerate(have) if _ALL.match(t) or t.lower().startswith("redirect=")),
        len(have),
    )
    merged_terms = have[:position] + missing + have[position:]
    value = " ".join(["v=spf1", *merged_terms])
    return SpfMerge(value, changed=True, lookups=lookup_count(value))


def _key(term: str) -> str:
    term = term.lower()
    return term[1:] if term.startswith("+") else term
