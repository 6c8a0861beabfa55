"""The text normaliser (:func:`embedrec.data.text.normalize`): hand-derived answers for its
documented rules, and properties over arbitrary Unicode text."""

from __future__ import annotations

import gzip
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.text import (
    normalize,
    normalize_lines,
    read_normalized,
    wikiextractor_sentences,
)


# ---------------------------------------------------------------------------------- known answers
@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        # punctuation separates and is dropped; the apostrophe splits "don't"
        ("Hello, world! Don't stop.", {}, ["hello", "world", "don", "t", "stop"]),
        # case is folded by default, kept on request
        ("Paris PARIS paris", {}, ["paris", "paris", "paris"]),
        ("Paris PARIS", {"lowercase": False}, ["Paris", "PARIS"]),
        # digits separate tokens unless kept
        ("B2B in 1984, mp3s", {}, ["b", "b", "in", "mp", "s"]),
        ("B2B in 1984, mp3s", {"keep_digits": True}, ["b2b", "in", "1984", "mp3s"]),
        # underscores, symbols and emoji separate like punctuation
        ("snake_case a+b 🙂smile", {}, ["snake", "case", "a", "b", "smile"]),
        # Unicode letters stay whole; text8's rules keep only a-z
        ("Café naïve Straße", {}, ["café", "naïve", "straße"]),
        ("Café naïve Straße", {"ascii_only": True}, ["caf", "na", "ve", "stra", "e"]),
        ("Mp3 Café", {"ascii_only": True, "keep_digits": True}, ["mp3", "caf"]),
        ("Mp3", {"ascii_only": True, "lowercase": False}, ["Mp"]),
        # non-Latin scripts: a word of letters and combining marks is one token
        ("東京 हिन्दी", {}, ["東京", "हिन्दी"]),
        # NFC: "e" + combining acute (2 code points) equals the precomposed "é"
        ("cafe\u0301", {}, ["caf\u00e9"]),
        # empty, blank and letter-free texts give no token
        ("", {}, []),
        ("  \t\n", {}, []),
        ("123 -- !!", {}, []),
    ],
)
def test_known_answers(text, kwargs, expected):
    assert normalize(text, **kwargs) == expected


def test_normalize_lines_skips_lines_without_a_token():
    lines = ["The cat.", "", "   ", "42!", "A dog"]
    assert list(normalize_lines(lines)) == [["the", "cat"], ["a", "dog"]]


def test_read_normalized_streams_files_directories_and_gzip(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a.txt").write_text("The Cat, sat.\n\nON the mat!\n", encoding="utf-8")
    with gzip.open(d / "b.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write("Ça va?\r\n")
    (d / ".hidden").write_text("never read\n", encoding="utf-8")
    expected = [["the", "cat", "sat"], ["on", "the", "mat"], ["ça", "va"]]
    assert list(read_normalized(d)) == expected
    assert list(read_normalized([d / "a.txt", d / "b.txt.gz"])) == expected
    assert list(read_normalized(d / "a.txt", lowercase=False))[1] == ["ON", "the", "mat"]


def test_read_normalized_names_the_line_that_is_not_utf8(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"fine line\nsecond\ncaf\xe9\n")
    with pytest.raises(ValueError, match=r"mixed\.txt, line 3: bytes are not valid UTF-8"):
        list(read_normalized(path))


def test_wikiextractor_sentences_keep_text8_rules(tmp_path):
    path = tmp_path / "wiki_00"
    path.write_text(
        '<doc id="1" title="Anarchism">\nAnarchism\n\nAnarchism is a Café-2 idea.\n</doc>\n',
        encoding="utf-8",
    )
    # the title line is dropped; a-z runs only ("Café-2" -> "caf")
    assert list(wikiextractor_sentences([path])) == [["anarchism", "is", "a", "caf", "idea"]]


# ---------------------------------------------------------------------------------- properties
def _kept(ch: str, keep_digits: bool) -> bool:
    """The documented token characters, from the Unicode database (not from the regex)."""
    cat = unicodedata.category(ch)
    return cat[0] in "LM" or (keep_digits and cat == "Nd")


TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(text=TEXT, keep_digits=st.booleans(), lowercase=st.booleans())
def test_tokens_are_the_runs_of_letters_marks_and_digits(text, keep_digits, lowercase):
    tokens = normalize(text, lowercase=lowercase, keep_digits=keep_digits)
    prepared = unicodedata.normalize("NFC", text)
    if lowercase:
        prepared = prepared.lower()
    # every token is a non-empty run of token characters ...
    assert all(tok and all(_kept(c, keep_digits) for c in tok) for tok in tokens)
    # ... and together they are all the token characters of the text, in order
    assert "".join(tokens) == "".join(c for c in prepared if _kept(c, keep_digits))
    # maximal runs: splitting the text at every other character gives the same tokens
    runs = "".join(c if _kept(c, keep_digits) else " " for c in prepared).split()
    assert tokens == runs


@settings(max_examples=300, deadline=None)
@given(text=TEXT, keep_digits=st.booleans())
def test_ascii_tokens_match_the_documented_regex(text, keep_digits):
    import re

    pattern = re.compile("[a-z0-9]+" if keep_digits else "[a-z]+")
    tokens = normalize(text, ascii_only=True, keep_digits=keep_digits)
    assert all(pattern.fullmatch(tok) for tok in tokens)
    assert tokens == pattern.findall(text.lower())


@settings(max_examples=200, deadline=None)
@given(text=TEXT)
def test_lowercase_tokens_are_lowercase_and_normalising_twice_changes_nothing(text):
    tokens = normalize(text)
    assert all(tok == tok.lower() for tok in tokens)
    assert normalize(" ".join(tokens)) == tokens
