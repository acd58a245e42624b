"""txt: between the logical TXT value we compare and the character-strings DNS carries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dnsbridge import txt

# Text with the characters that need care: quotes, backslashes, spaces, digits after a backslash,
# and multi-octet UTF-8 (2, 3 and 4 octets).
tricky_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(['"', "\\", " ", "\t", "0", "9", ";", "=", "é", "中", "😀", "\x00", "\x7f"]),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=700,
)


@pytest.mark.parametrize(
    ("presentation", "strings"),
    [
        ('"a" "b\\"c"', ["a", 'b"c']),
        ('"one string with spaces"', ["one string with spaces"]),
        ("bare words", ["bare", "words"]),
        ('"\\065\\066"', ["AB"]),
        ('"caf\\195\\169"', ["café"]),
        ('"back\\\\slash"', ["back\\slash"]),
        ('""', [""]),
        ('"" ""', ["", ""]),
        ("", []),
        ("   ", []),
        ('  "a"\t"b"  ', ["a", "b"]),
    ],
)
def test_split_strings_decodes_character_strings(presentation: str, strings: list[str]) -> None:
    assert txt.split_strings(presentation) == strings


def test_split_strings_decodes_only_ascii_digits_as_ddd() -> None:
    # "\٠٦٥" is not an RFC 1035 \DDD escape: the backslash escapes "٠" and the rest is text
    assert txt.split_strings('"\\٠٦٥"') == ["٠٦٥"]


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ('"v=spf1 include:qcloudmail.com ~all"', "v=spf1 include:qcloudmail.com ~all"),
        ('"v=DKIM1; k=rsa; p=MIGf" "MA0GCSqG"', "v=DKIM1; k=rsa; p=MIGfMA0GCSqG"),
        ('  "a\\"b"  ', 'a"b'),
        ("v=spf1 include:qcloudmail.com ~all", "v=spf1 include:qcloudmail.com ~all"),  # DNSPod's bare form
        ("google-site-verification=abc", "google-site-verification=abc"),
        ('"', '"'),  # a lone quote is bare data
        ('""', ""),
    ],
)
def test_unquote_joins_quoted_strings_and_keeps_bare_values(data: str, value: str) -> None:
    assert txt.unquote(data) == value


def test_quote_escapes_quote_and_backslash() -> None:
    assert txt.quote('say "hi" \\ bye') == '"say \\"hi\\" \\\\ bye"'


def test_quote_writes_non_ascii_and_control_octets_as_decimal_escapes() -> None:
    assert txt.quote("é\n") == '"\\195\\169\\010"'


def test_quote_splits_a_long_value_into_255_octet_strings() -> None:
    value = "p=" + "A" * 600
    quoted = txt.quote(value)
    assert quoted == '"' + value[:255] + '" "' + value[255:510] + '" "' + value[510:] + '"'


def test_quote_of_empty_value_is_one_empty_string() -> None:
    assert txt.quote("") == '""'
    assert txt.chunk("") == [""]


def test_chunk_backs_off_to_the_start_of_a_utf8_sequence() -> None:
    value = "a" * 254 + "中"  # "中" is 3 octets, so it can't end the first 255-octet piece
    assert txt.chunk(value) == ["a" * 254, "中"]


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_unquote_reverses_quote(value: str) -> None:
    assert txt.unquote(txt.quote(value)) == value


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_quoted_strings_are_printable_ascii_of_at_most_255_octets(value: str) -> None:
    quoted = txt.quote(value)
    assert all(0x20 <= ord(ch) < 0x7F for ch in quoted)
    strings = txt.split_strings(quoted)
    assert "".join(strings) == value
    assert all(len(s.encode("utf-8")) <= txt.MAX_STRING_OCTETS for s in strings)


@settings(max_examples=200, deadline=None)
@given(tricky_text, st.integers(min_value=4, max_value=300))
def test_chunk_keeps_every_octet_in_pieces_of_at_most_size(value: str, size: int) -> None:
    pieces = txt.chunk(value, size)
    # each piece is a str, so no piece can hold half a UTF-8 sequence; together they are the value
    assert b"".join(p.encode("utf-8") for p in pieces) == value.encode("utf-8")
    assert all(len(p.encode("utf-8")) <= size for p in pieces)
    assert all(p for p in pieces) or pieces == [""]


@settings(max_examples=200, deadline=None)
@given(tricky_text)
def test_default_chunks_fit_a_character_string(value: str) -> None:
    pieces = txt.chunk(value)
    assert "".join(pieces) == value
    assert all(len(p.encode("utf-8")) <= 255 for p in pieces)
    # only the last piece may be short by more than a partial UTF-8 sequence
    assert all(len(p.encode("utf-8")) > 255 - 4 for p in pieces[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(tricky_text.map(lambda s: s[:80]), max_size=5))
def test_split_strings_reads_back_separately_quoted_strings(strings: list[str]) -> None:
    presentation = " ".join(txt.quote(s, size=1000) for s in strings)
    assert txt.split_strings(presentation) == strings


def test_chunk_refuses_a_size_that_could_not_hold_a_utf8_sequence() -> None:
    with pytest.raises(ValueError, match="at least 4"):
        txt.chunk("é", 1)


def test_ddd_escape_above_255_is_rejected() -> None:
    with pytest.raises(ValueError, match="not an octet"):
        txt.split_strings('"\\999"')
