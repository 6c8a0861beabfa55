"""Encoded corpora: int32 token ids plus int64 sentence offsets (CSR layout).

``build_corpus`` reads text files or any iterable of token sequences in **one streaming
pass**: every token is mapped to a provisional id as it is read (no Python strings are
kept per token), counted, then filtered by ``min_count`` and renumbered by descending count.
Large corpora spill to a memory-mapped temporary file instead of growing in RAM.
"""

from __future__ import annotations

import gzip
import logging
import os
import tempfile
import zlib
from array import array
from collections.abc import Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ..progress import Progress
from .vocab import Vocab

logger = logging.getLogger("embedrec")

PathLike = str | os.PathLike[str]
#: tokens kept in RAM before the encoded corpus spills to a memory-mapped file
SPILL_TOKENS = 1 << 28
#: tokens renumbered per step: small enough that the temporaries stay a few MB
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Corpus:
    """Sentences of int32 token ids: sentence ``s`` is ``tokens[offsets[s]:offsets[s + 1]]``.

    Parameters
    ----------
    tokens : (n_tokens,) int32
        Row indices into a :class:`Vocab` (possibly a read-only memory map).
    offsets : (n_sentences + 1,) int64
        Non-decreasing, ``offsets[0] == 0`` and ``offsets[-1] == n_tokens``.
    """

    tokens: npt.NDArray[np.int32]
    offsets: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        if self.tokens.dtype != np.int32 or self.tokens.ndim != 1:
            raise ValueError(
                f"tokens must be a 1-D int32 array, got {self.tokens.dtype} "
                f"with shape {self.tokens.shape}"
            )
        off = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if off.ndim != 1 or off.size < 1 or off[0] != 0 or off[-1] != self.tokens.size:
            raise ValueError(
                f"offsets must start at 0 and end at n_tokens={self.tokens.size}; got shape "
                f"{off.shape}" + (f", ends {off[0]}..{off[-1]}" if off.size else "")
            )
        if off.size > 1 and np.any(np.diff(off) < 0):
            raise ValueError("offsets must be non-decreasing")
        object.__setattr__(self, "offsets", off)

    @property
    def n_sentences(self) -> int:
        return int(self.offsets.size - 1)

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.size)

    def sentence(self, s: int) -> npt.NDArray[np.int32]:
        return self.tokens[self.offsets[s] : self.offsets[s + 1]]

    def shards(self, target_tokens: int) -> npt.NDArray[np.int64]:
        """Sentence boundaries splitting the corpus into runs of about ``target_tokens``.

        A sentence is never cut: one longer than ``target_tokens`` forms a shard of its own.
        Returns ``bounds`` with shard ``i`` = sentences ``bounds[i]:bounds[i + 1]``.
        """
        n = self.n_sentences
        if n == 0:
            return np.zeros(1, dtype=np.int64)
        goals = np.arange(target_tokens, self.n_tokens, target_tokens, dtype=np.int64)
        cuts = np.searchsorted(self.offsets, goals, side="left")
        bounds = np.unique(np.concatenate([[0], cuts, [n]]).clip(0, n))
        return bounds.astype(np.int64)


class _Ids(dict[Hashable, int]):
    """dict that hands out the next provisional id to an unseen key."""

    next_id = 0

    def __missing__(self, key: Hashable) -> int:
        v = self.next_id
        self[key] = v
        self.next_id = v + 1
        return v


class _Sink:
    """Append-only int32 buffer that spills to a temporary file past ``spill`` tokens."""

    def __init__(self, spill: int, spill_dir: PathLike | None) -> None:
        self.buf = array("i")
        self.spill = spill
        self.spill_dir = spill_dir
        self.file: IO[bytes] | None = None
        self.path: str | None = None
        self.n_spilled = 0

    def maybe_spill(self) -> None:
        if len(self.buf) >= self.spill:
            if self.file is None:
                fd, self.path = tempfile.mkstemp(
                    prefix="embedrec-corpus-", suffix=".i32", dir=self.spill_dir
                )
                self.file = os.fdopen(fd, "wb")
            self.buf.tofile(self.file)
            self.n_spilled += len(self.buf)
            self.buf = array("i")

    def __len__(self) -> int:
        return self.n_spilled + len(self.buf)

    def finish(self) -> npt.NDArray[np.int32]:
        if self.file is None:
            return (
                np.frombuffer(self.buf, dtype=np.int32)
                if len(self.buf)
                else np.zeros(0, dtype=np.int32)
            )
        self.buf.tofile(self.file)
        self.file.close()
        n = self.n_spilled + len(self.buf)
        self.buf = array("i")
        assert self.path is not None
        mm = np.memmap(self.path, dtype=np.int32, mode="r+", shape=(n,))
        os.unlink(self.path)  # the mapping keeps the data alive; nothing is left behind
        return mm


def _open_text(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="strict")
    return open(path, encoding="utf-8", errors="strict")


def _decode_error(path: Path, exc: UnicodeDecodeError) -> ValueError:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    lineno = 0
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, 1):  # noqa: B007
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                break
    return ValueError(
        f"{path}, line {lineno}: bytes are not valid UTF-8 ({exc.reason}); corpus files must "
        "be UTF-8 text: re-encode it (e.g. iconv -f latin1 -t utf-8) or pass an iterable of "
        "token lists"
    )


def _split_lines(fh: IO[str], path: Path) -> Iterator[list[Hashable]]:
    for line_no, line in enumerate(fh, 1):
        if "\0" in line:
            # text never holds NUL; without this check a binary file trains as one huge "word"
            raise ValueError(
                f"{path}, line {line_no}: NUL byte; this is a binary file, not text. Corpus "
                "files must be UTF-8 text, one sentence per line (only .gz is decompressed: "
                "unpack .bz2/.xz/.zip files first)"
            )
        yield line.split()  # type: ignore[misc]


def _gzip_error(path: Path, exc: Exception) -> ValueError:
    return ValueError(
        f"{path} is a truncated or corrupt gzip file ({exc}); re-download or re-compress it "
        f"(`gzip -t {path}` checks it)"
    )


def resolve_paths(source: PathLike | Iterable[PathLike]) -> list[Path]:
    """Expand a file, a directory (its non-hidden files, sorted) or a list of them."""
    items = [source] if isinstance(source, (str, os.PathLike)) else list(source)
    paths: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
            if not found:
                raise FileNotFoundError(
                    f"corpus directory {p} holds no files; add text files "
                    "(one sentence per line) or pass file paths"
                )
            paths.extend(found)
        elif p.is_file():
            paths.append(p)
        else:
            raise FileNotFoundError(f"corpus file {p} does not exist; check the path")
    return paths


def _is_path_list(source: Any) -> bool:
    if isinstance(source, (str, os.PathLike)):
        return True
    if not isinstance(source, (list, tuple)) or not source:
        return False
    if all(isinstance(x, os.PathLike) for x in source):
        return True
    if all(isinstance(x, str) for x in source):
        if os.path.exists(source[0]):
            return True
        raise TypeError(
            "the corpus is a list of strings that are not existing files: sentences must be "
            "sequences of tokens (e.g. [line.split() for line in lines]); to read files, pass "
            f"paths that exist (first item: {source[0][:60]!r})"
        )
    return False


def _iter_token_lists(sentences: Iterable[Any]) -> Iterator[list[Hashable]]:
    for s in sentences:
        if isinstance(s, list):
            yield s
        elif isinstance(s, np.ndarray):
            if s.dtype.kind not in "iu":
                raise TypeError(
                    f"a sentence is a numpy array of dtype {s.dtype}; token "
                    "arrays must hold integers"
                )
            yield s.tolist()
        elif isinstance(s, (str, bytes)):
            raise TypeError(
                f"a sentence is a {type(s).__name__} ({s[:40]!r}); sentences must be sequences "
                "of tokens: split the text first, e.g. line.split()"
            )
        else:
            try:
                yield list(s)
            except TypeError as exc:
                raise TypeError(
                    f"a sentence is a {type(s).__name__}, not a sequence of tokens"
                ) from exc


def build_corpus(
    source: PathLike | Iterable[PathLike] | Iterable[Iterable[Hashable]],
    *,
    min_count: int = 5,
    max_vocab_size: int | None = None,
    max_final_vocab: int | None = None,
    progress: bool = False,
    spill_tokens: int = SPILL_TOKENS,
    spill_dir: PathLike | None = None,
) -> tuple[Vocab, Corpus]:
    """Build the vocabulary and the encoded corpus in one streaming pass.

    Parameters
    ----------
    source
        A text file (plain or ``.gz``, UTF-8, one sentence per line, tokens separated by
        whitespace), a directory of such files, a list of paths, or an iterable of token
        sequences whose tokens are ``str`` or ``int`` (numpy integer arrays are accepted).
        Blank lines and empty sentences are skipped. Sentences are never truncated.
    min_count
        Keys seen fewer times are dropped from the vocabulary and from the sentences.
    max_vocab_size
        Bound on distinct keys held while scanning: past it, rare keys are pruned as in
        word2vec.c (keys below a rising threshold are forgotten, their counts lost).
    max_final_vocab
        Keep at most this many keys, raising ``min_count`` as gensim does.

    Returns
    -------
    (Vocab, Corpus)
        Keys sorted by descending count; sentences with no kept token are dropped.

    Raises
    ------
    ValueError
        Empty corpus, nothing reaching ``min_count``, undecodable bytes, bad token types.
    FileNotFoundError
        A path that does not exist.
    """
    ids = _Ids()
    sink = _Sink(spill_tokens, spill_dir)
    lengths = array("q")
    dead: list[int] = []
    min_reduce = 1
    bar = Progress(None, "scanning corpus", "tokens", enabled=progress)
    getitem = ids.__getitem__

    def prune() -> None:
        nonlocal min_reduce
        counts = _count(sink, ids.next_id)
        drop = [k for k, v in ids.items() if counts[v] < min_reduce]
        for k in drop:
            dead.append(ids.pop(k))
        logger.info(
            "pruned %d keys with count < %d (max_vocab_size=%d)",
            len(drop),
            min_reduce,
            max_vocab_size,
        )
        min_reduce += 1

    def consume(lines: Iterable[list[Hashable]]) -> None:
        n_seen = 0
        for toks in lines:
            if not toks:
                continue
            sink.buf.extend(map(getitem, toks))
            lengths.append(len(toks))
            n_seen += len(toks)
            if len(sink.buf) >= spill_tokens:
                sink.maybe_spill()
            if n_seen >= 1_000_000:
                bar.update(n_seen)
                n_seen = 0
            if max_vocab_size is not None and len(ids) > max_vocab_size:
                prune()
        bar.update(n_seen)

    try:
        if _is_path_list(source):
            for path in resolve_paths(source):  # type: ignore[arg-type]
                try:
                    with _open_text(path) as fh:
                        consume(_split_lines(fh, path))
                except UnicodeDecodeError as exc:
                    raise _decode_error(path, exc) from None
                except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
                    raise _gzip_error(path, exc) from None
        else:
            consume(_iter_token_lists(source))  # type: ignore[arg-type]
    finally:
        bar.close()

    n_raw = len(sink)
    if n_raw == 0:
        raise ValueError(
            "the corpus is empty: no tokens were found; check the input (text "
            "files need one whitespace-separated sentence per line)"
        )
    for key in ids:
        if isinstance(key, bool) or not isinstance(key, (str, int, np.integer)):
            raise TypeError(
                f"token {key!r} has type {type(key).__name__}; tokens must be str or int"
            )
    prov = sink.finish()
    counts = _count_array(prov, ids.next_id)
    if dead:
        counts[np.asarray(dead, dtype=np.int64)] = 0
    eff_min = max(int(min_count), 1)
    if max_final_vocab is not None:
        above = np.sort(counts[counts >= eff_min])[::-1]
        if above.size > max_final_vocab:
            eff_min = max(eff_min, int(above[max_final_vocab]) + 1)
            logger.info("max_final_vocab=%d raises min_count to %d", max_final_vocab, eff_min)
    kept = np.flatnonzero(counts >= eff_min)
    if kept.size == 0:
        raise ValueError(
            f"no token reaches min_count={eff_min} (the most frequent occurs "
            f"{int(counts.max())} times in {n_raw} tokens); lower min_count or give more text"
        )
    order = kept[np.argsort(-counts[kept], kind="stable")]
    remap = np.full(ids.next_id, -1, dtype=np.int32)
    remap[order] = np.arange(order.size, dtype=np.int32)
    inverse: list[Hashable] = [None] * ids.next_id
    for k, v in ids.items():
        inverse[v] = k
    keys = [_plain(inverse[i]) for i in order.tolist()]
    del inverse
    ids.clear()  # the scan's dictionary is the largest Python object: free it before compacting
    vocab = Vocab(keys, counts[order])
    corpus = _remap_compact(prov, np.frombuffer(lengths, dtype=np.int64), remap)
    logger.info(
        "corpus: %d raw tokens, %d kept in %d sentences, vocabulary %d keys (min_count=%d)",
        n_raw,
        corpus.n_tokens,
        corpus.n_sentences,
        len(vocab),
        eff_min,
    )
    return vocab, corpus


def _plain(key: Hashable) -> Hashable:
    return int(key) if isinstance(key, np.integer) else key


def _count_array(prov: npt.NDArray[np.int32], n: int) -> npt.NDArray[np.int64]:
    counts = np.zeros(n, dtype=np.int64)
    for a in range(0, prov.size, _CHUNK):
        counts += np.bincount(prov[a : a + _CHUNK], minlength=n)
    return counts


def _count(sink: _Sink, n: int) -> npt.NDArray[np.int64]:
    counts = np.bincount(np.frombuffer(sink.buf, dtype=np.int32), minlength=n).astype(np.int64)
    if sink.file is not None and sink.path is not None:
        sink.file.flush()
        mm = np.memmap(sink.path, dtype=np.int32, mode="r", shape=(sink.n_spilled,))
        counts += _count_array(np.asarray(mm), n)
    return counts


def _remap_compact(
    prov: npt.NDArray[np.int32], lengths: npt.NDArray[np.int64], remap: npt.NDArray[np.int32]
) -> Corpus:
    """Renumber tokens in place, drop the unkept ones and empty sentences, chunk by chunk."""
    offsets = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    new_len = np.empty(lengths.size, dtype=np.int64)
    write = 0
    s = 0
    n_sent = lengths.size
    while s < n_sent:
        e = int(np.searchsorted(offsets, offsets[s] + _CHUNK, side="right")) - 1
        e = min(max(e, s + 1), n_sent)
        a, b = int(offsets[s]), int(offsets[e])
        seg = remap[prov[a:b]]
        keep = seg >= 0
        csum = np.zeros(b - a + 1, dtype=np.int64)
        np.cumsum(keep, out=csum[1:])
        rel = offsets[s : e + 1] - a
        new_len[s:e] = csum[rel[1:]] - csum[rel[:-1]]
        kept = seg[keep]
        prov[write : write + kept.size] = kept
        write += kept.size
        s = e
    nonempty = new_len > 0
    new_offsets = np.zeros(int(nonempty.sum()) + 1, dtype=np.int64)
    np.cumsum(new_len[nonempty], out=new_offsets[1:])
    # a view, also of a memory map: copying would double the peak memory
    return Corpus(prov[:write], new_offsets)


def encode_sequences(
    codes: npt.NDArray[np.integer[Any]],
    offsets: npt.NDArray[np.int64],
    keys: Sequence[Hashable] | npt.NDArray[Any],
    *,
    min_count: int = 1,
) -> tuple[Vocab, Corpus]:
    """A :class:`Vocab` and :class:`Corpus` from sequences already coded against ``keys``.

    Parameters
    ----------
    codes : (n_events,) int
        ``keys`` row of every event; sequence ``s`` is ``codes[offsets[s]:offsets[s + 1]]``.
    offsets : (n_sequences + 1,) int64
    keys : (n_keys,) str or int keys
    min_count : int
        Keys with fewer events are dropped from the vocabulary and their events from the
        sequences (the sequences themselves stay, possibly shorter).

    Returns
    -------
    (Vocab, Corpus)
        Vocabulary sorted by descending count (ties by code), corpus in vocabulary rows.
    """
    codes = np.asarray(codes)
    offsets = np.asarray(offsets, dtype=np.int64)
    n_keys = len(keys)
    counts = np.bincount(codes, minlength=n_keys).astype(np.int64)
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_count]
    if order.size == 0:
        raise ValueError(
            f"no key occurs min_count={min_count} times; lower min_count or give more data"
        )
    remap = np.full(n_keys, -1, dtype=np.int64)
    remap[order] = np.arange(order.size)
    new = remap[codes]
    kept = new >= 0
    cum = np.zeros(codes.size + 1, dtype=np.int64)
    np.cumsum(kept, out=cum[1:])
    key_list = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
    vocab = Vocab([key_list[i] for i in order.tolist()], counts[order])
    return vocab, Corpus(new[kept].astype(np.int32), cum[offsets])
