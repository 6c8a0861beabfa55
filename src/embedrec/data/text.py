"""Plain-text corpora: the one text normaliser, and WikiExtractor output read with it.

Word2Vec reads text files as they are: a token is whatever lies between whitespace, with its
case and punctuation (``"Paris,"`` and ``"paris"`` are two different words). :func:`normalize`
is the opt-in alternative (``embedrec word2vec train --normalize``): lowercase runs of letters,
as in text8 and the analogy benchmarks. docs/tokenisation.md shows the difference it makes.
"""

from __future__ import annotations

import functools
import gzip
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator

from ..formats import open_maybe_gzip
from .corpus import resolve_paths

__all__ = ["normalize", "normalize_lines", "read_normalized", "wikiextractor_sentences"]


@functools.cache
def _unicode_class(keep_digits: bool) -> str:
    """A regex character class of every code point of category L* or M* (and Nd with
    ``keep_digits``), as ranges: the ``re`` module has no ``\\p{L}``. Built once per process
    (about half a second), on first use."""
    wanted = ("L", "M", "Nd") if keep_digits else ("L", "M")
    parts: list[str] = []
    start = -1
    for cp in range(sys.maxunicode + 2):
        ok = cp <= sys.maxunicode and unicodedata.category(chr(cp)).startswith(wanted)
        if ok and start < 0:
            start = cp
        elif not ok and start >= 0:
            end = cp - 1
            parts.append(
                re.escape(chr(start)) + ("" if end == start else "-" + re.escape(chr(end)))
            )
            start = -1
    return "[" + "".join(parts) + "]+"


@functools.cache
def _token_pattern(lowercase: bool, keep_digits: bool, ascii_only: bool) -> re.Pattern[str]:
    if ascii_only:
        letters = "a-z" if lowercase else "A-Za-z"
        return re.compile(f"[{letters}{'0-9' if keep_digits else ''}]+")
    return re.compile(_unicode_class(keep_digits))


def normalize(
    text: str, *, lowercase: bool = True, keep_digits: bool = False, ascii_only: bool = False
) -> list[str]:
    r"""The tokens of ``text``: runs of letters, lowercased; everything else separates them.

    The rules, in order:

    1. Unicode mode (the default): ``text`` is put in Unicode normal form NFC, so a letter
       and its combining accent typed separately equal the precomposed letter.
    2. With ``lowercase`` the text is lowercased (``str.lower``).
    3. A token is a maximal run of

       * Unicode mode: letters and combining marks (general categories ``L*`` and ``M*``;
         the regex ``[\p{L}\p{M}]+``), plus decimal digits (``Nd``) with ``keep_digits``:
         ``"Café"`` -> ``["café"]``, ``"naïve"`` stays one word, ``"東京"`` is one token;
       * ``ascii_only`` (text8's rules): ASCII letters, ``[a-z]+`` after lowercasing
         (``[A-Za-z]+`` without), plus ``0-9`` with ``keep_digits``: other letters separate
         tokens like punctuation does (``"Café"`` -> ``["caf"]``).

       Whitespace, punctuation, symbols, underscores, emoji and (without ``keep_digits``)
       digits separate tokens and are dropped: ``"don't"`` -> ``["don", "t"]``,
       ``"B2B"`` -> ``["b", "b"]``.

    An empty or letter-free text gives ``[]``.

    Parameters
    ----------
    text : str
        One sentence or paragraph.
    lowercase : bool, default True
        Lowercase before tokenising (the analogy benchmarks compare words case-insensitively,
        so lowercase vectors answer them without case duplicates).
    keep_digits : bool, default False
        Digits are part of tokens (``"mp3"``, ``"1984"``) instead of separators.
    ascii_only : bool, default False
        text8's rules: only ASCII letters (and digits) make tokens.

    Returns
    -------
    list of str

    Examples
    --------
    >>> normalize("The Café's 2 cats, naïvely!")
    ['the', 'café', 's', 'cats', 'naïvely']
    >>> normalize("The Café's 2 cats", ascii_only=True, keep_digits=True)
    ['the', 'caf', 's', '2', 'cats']
    """
    if not ascii_only:
        text = unicodedata.normalize("NFC", text)
    if lowercase:
        text = text.lower()
    return _token_pattern(lowercase, keep_digits, ascii_only).findall(text)


def normalize_lines(
    lines: Iterable[str],
    *,
    lowercase: bool = True,
    keep_digits: bool = False,
    ascii_only: bool = False,
) -> Iterator[list[str]]:
    """:func:`normalize` of each line; lines without a token are skipped."""
    for line in lines:
        tokens = normalize(
            line, lowercase=lowercase, keep_digits=keep_digits, ascii_only=ascii_only
        )
        if tokens:
            yield tokens


def read_normalized(
    source: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    lowercase: bool = True,
    keep_digits: bool = False,
    ascii_only: bool = False,
) -> Iterator[list[str]]:
    """Stream the normalised sentences of text files, one per non-empty line.

    ``source`` is what ``Word2Vec.fit`` reads: a file (plain or gzipped, UTF-8), a directory
    (its non-hidden files, sorted) or a list of them. The result is read once, lazily, so
    ``Word2Vec(cfg).fit(read_normalized("corpus.txt"))`` never holds the text in memory.

    Raises
    ------
    FileNotFoundError
        A path that does not exist, or an empty directory.
    ValueError
        Bytes that are not UTF-8 (the file and line are named).
    """
    for path in resolve_paths(source):
        with open_maybe_gzip(path) as raw:
            # binary lines split at b"\n" only, as the whitespace reader does; decoded one by
            # one, so an error names its line
            for line_no, data in enumerate(raw, 1):
                try:
                    line = data.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"{path}, line {line_no}: bytes are not valid UTF-8 ({exc.reason}); "
                        "re-encode the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
                    ) from None
                tokens = normalize(
                    line, lowercase=lowercase, keep_digits=keep_digits, ascii_only=ascii_only
                )
                if tokens:
                    yield tokens


def wikiextractor_sentences(files: Iterable[str | os.PathLike[str]]) -> Iterator[list[str]]:
    """Yield one token list per paragraph of WikiExtractor output (plain or ``.gz``).

    ``<doc>``/``</doc>`` lines and the title line after each ``<doc>`` are dropped; the rest is
    tokenised by :func:`normalize` with text8's rules (``ascii_only=True``: lowercase runs of
    a-z, digits and punctuation dropped). Empty paragraphs are skipped.
    """
    for f in files:
        opener = gzip.open if os.fspath(f).endswith(".gz") else open
        after_doc = False
        with opener(f, "rt", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("<doc"):
                    after_doc = True
                    continue
                if after_doc:  # the title line follows the <doc> tag
                    after_doc = False
                    continue
                if line.startswith("</doc"):
                    continue
                toks = normalize(line, ascii_only=True)
                if toks:
                    yield toks
