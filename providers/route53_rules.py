"""What Route 53 accepts in a ChangeResourceRecordSets request, as a pure check.

moto accepts values that Route 53 rejects (unquoted TXT, strings over 255 octets, values over
4,000 characters, duplicate values: API-FACTS.md), so the tests run every ChangeBatch the
provider sends through `check_change_batch`, and the provider runs it too before its first call,
so a batch Route 53 would refuse fails before anything is changed.

The rules, and where they are documented (Amazon Route 53 Developer Guide):
- "Supported DNS record types", TXT record type: a value is one or more double-quoted strings
  separated by spaces, each at most 255 characters; a literal `"` or `\\` is preceded by `\\`;
  any other octet outside printable ASCII is written as a `\\` + three-digit OCTAL escape (the
  same escape form as "DNS domain name format", not RFC 1035's decimal `\\DDD`). SPF: as TXT.
- API reference, ResourceRecord.Value: at most 4,000 characters per value.
- "Quotas", ChangeResourceRecordSets: at most 1,000 ResourceRecord elements and 32,000
  characters of Value per request; with UPSERT each element and each character counts twice.
- "Supported DNS record types", CNAME: not at the zone apex, and (RFC 1034 §3.6.2) one value.
- MX: "priority host", priority 0–65535 (the trailing dot of the host is optional there).
- A record set holds no duplicate values (InvalidChangeBatch "Duplicate Resource Record").

This module imports nothing from boto3; it reads the plain dict the SDK is given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

MAX_STRING_OCTETS = 255
MAX_VALUE_CHARS = 4_000
MAX_REQUEST_VALUES = 1_000
MAX_REQUEST_CHARS = 32_000
ACTIONS = ("CREATE", "DELETE", "UPSERT")
TXT_TYPES = ("TXT", "SPF")
_OCTAL = frozenset("01234567")
_MX = re.compile(r"^(\d{1,5}) ([A-Za-z0-9_*\\-]+(\.[A-Za-z0-9_\\-]+)*\.?)$")


def check_change_batch(batch: Mapping[str, Any], apex: str | None = None) -> list[str]:
    """Every rule this ChangeBatch breaks (empty when Route 53 would accept its values).

    `apex` is the hosted zone's name, for the CNAME-at-apex rule; without it that rule is skipped.
    """
    problems: list[str] = []
    changes: Sequence[Mapping[str, Any]] = batch.get("Changes") or []
    if not changes:
        problems.append("a ChangeBatch needs at least one change")
    total_values = total_chars = 0
    for i, change in enumerate(changes):
        action = change.get("Action")
        rrset: Mapping[str, Any] = change.get("ResourceRecordSet") or {}
        name, rtype = str(rrset.get("Name", "")), str(rrset.get("Type", ""))
        where = f"change {i} ({action} {name} {rtype})"
        if action not in ACTIONS:
            problems.append(f"{where}: Action must be one of {', '.join(ACTIONS)}")
        if not name or not rtype:
            problems.append(f"{where}: a record set needs a Name and a Type")
        values = [str(rr.get("Value", "")) for rr in rrset.get("ResourceRecords") or []]
        if "AliasTarget" not in rrset:
            if not values:
                problems.append(f"{where}: a record set that is not an alias needs ResourceRecords")
            if "TTL" not in rrset:
                problems.append(f"{where}: a record set that is not an alias needs a TTL")
        weight = 2 if action == "UPSERT" else 1
        total_values += weight * len(values)
        total_chars += weight * sum(len(v) for v in values)
        for j, value in enumerate(values):
            problems.extend(f"{where}, value {j}: {p}" for p in check_value(rtype, value))
        keys = [_value_key(rtype, v) for v in values]
        if len(keys) != len(set(keys)):
            problems.append(f"{where}: the set holds the same value twice")
        if rtype == "CNAME":
            if apex is not None and _bare(name) == _bare(apex):
                problems.append(f"{where}: a CNAME can't be at the zone apex")
            if len(values) > 1:
                problems.append(f"{where}: a CNAME set holds exactly one value")
    if total_values > MAX_REQUEST_VALUES:
        problems.append(
            f"the request holds {total_values} ResourceRecord elements (UPSERT counted twice); "
            f"at most {MAX_REQUEST_VALUES}"
        )
    if total_chars > MAX_REQUEST_CHARS:
        problems.append(
            f"the request holds {total_chars} characters of values (UPSERT counted twice); at most {MAX_REQUEST_CHARS}"
        )
    return problems


def check_value(rtype: str, value: str) -> list[str]:
    """The rules one Value of a record set of type `rtype` breaks."""
    problems: list[str] = []
    if len(value) > MAX_VALUE_CHARS:
        problems.append(f"{len(value)} characters; a value has at most {MAX_VALUE_CHARS}")
    if rtype in TXT_TYPES:
        problems.extend(_check_txt(value))
    elif rtype == "MX":
        match = _MX.match(value)
        if not match:
            problems.append(f"{value[:60]!r} is not 'priority host'")
        elif int(match.group(1)) > 65535:
            problems.append(f"MX priority {match.group(1)} is above 65535")
    return problems


def _check_txt(value: str) -> list[str]:
    """One or more `"…"` strings separated by spaces, each ≤ 255 octets, escapes only `\\"`, `\\\\`, `\\ooo`."""
    if not value:
        return ["an empty value; TXT data is one or more double-quoted strings"]
    problems: list[str] = []
    i, n, index = 0, len(value), 0
    while i < n:
        if value[i] != '"':
            return [*problems, f"expected a double-quoted string at offset {i}: {value[i : i + 20]!r}"]
        i += 1
        octets, closed = 0, False
        while i < n:
            ch = value[i]
            if ch == '"':
                closed = True
                i += 1
                break
            if ch == "\\":
                nxt = value[i + 1 : i + 2]
                digits = value[i + 1 : i + 4]
                if nxt in ('"', "\\"):
                    i += 2
                elif len(digits) == 3 and set(digits) <= _OCTAL:
                    i += 4
                else:
                    return [
                        *problems,
                        f'string {index + 1}: {value[i : i + 4]!r} is not \\", \\\\ or \\ + three octal digits',
                    ]
                octets += 1
                continue
            if not 0x20 <= ord(ch) < 0x7F:
                return [*problems, f"string {index + 1}: {ch!r} must be written as a \\ + three-digit octal escape"]
            octets += 1
            i += 1
        if not closed:
            return [*problems, f"string {index + 1} has no closing double quote"]
        if octets > MAX_STRING_OCTETS:
            problems.append(f"string {index + 1} is {octets} octets; a string holds at most {MAX_STRING_OCTETS}")
        index += 1
        if i < n:
            if value[i] != " ":
                return [*problems, f"strings must be separated by spaces (offset {i}: {value[i : i + 20]!r})"]
            while i < n and value[i] == " ":
                i += 1
            if i == n:
                problems.append("the value ends with a space")
    return problems


def _value_key(rtype: str, value: str) -> str:
    if rtype in TXT_TYPES:
        return value
    return value.lower().rstrip(".")


def _bare(name: str) -> str:
    return name.lower().rstrip(".")
