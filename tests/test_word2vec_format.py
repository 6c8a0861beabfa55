"""The word2vec-format reader accepts what gensim's ``KeyedVectors.load_word2vec_format``
accepts (``unicode_errors``, ``no_header``), and every key it accepts is either written back and
read again identically or refused at write time with a clear error (issue #14 part 4)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

from embedrec import Embeddings
from embedrec.cli.main import cli


def f32(*values: float) -> bytes:
    return struct.pack(f"<{len(values)}f", *values)


#: keys cut inside a multi-byte character, as word2vec.c writes long words
CUT_TEXT = b"3 2\ncaf\xc3 0.5 1.0\nabc 1 2\nab\xe2\x82 3 4\n"
CUT_BINARY = b"3 2\ncaf\xc3 " + f32(0.5, 1) + b"\nabc " + f32(1, 2) + b"\nab\xe2\x82 " + f32(3, 4)
GLOVE = b"the 0.5 -1.0 2\nof 0.25 2.0 3\nand 1 1 1"  # no header, no final newline


@pytest.mark.parametrize(("data", "binary"), [(CUT_TEXT, False), (CUT_BINARY, True)])
@pytest.mark.parametrize(
    ("errors", "keys"),
    [("replace", ["caf\ufffd", "abc", "ab\ufffd"]), ("ignore", ["caf", "abc", "ab"])],
)
def test_keys_cut_mid_utf8(
    tmp_path: Path, data: bytes, binary: bool, errors: str, keys: list[str]
) -> None:
    path = tmp_path / "cut.bin"
    path.write_bytes(data)
    emb = Embeddings.load_word2vec_format(path, unicode_errors=errors)  # type: ignore[arg-type]
    assert emb.keys == keys
    assert_array_equal(emb.vectors, [[0.5, 1], [1, 2], [3, 4]])
    with pytest.raises(ValueError, match="unicode_errors='replace'"):
        Embeddings.load_word2vec_format(path)


def test_unknown_unicode_errors_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    path.write_bytes(b"1 1\na 1\n")
    with pytest.raises(ValueError, match="unicode_errors='surrogateescape' is invalid"):
        Embeddings.load_word2vec_format(path, unicode_errors="surrogateescape")  # type: ignore[arg-type]


def test_keys_equal_after_lossy_decoding_keep_the_first_row(tmp_path: Path) -> None:
    path = tmp_path / "dup.txt"
    path.write_bytes(b"2 2\nab\xc3 0.5 1.0\nab\xc4 1 2\n")
    emb = Embeddings.load_word2vec_format(path, unicode_errors="ignore")
    assert emb.keys == ["ab"] and emb.vectors.tolist() == [[0.5, 1.0]]


def test_glove_without_header(tmp_path: Path) -> None:
    path = tmp_path / "glove.txt"
    path.write_bytes(GLOVE)
    emb = Embeddings.load_word2vec_format(path, no_header=True)
    assert emb.keys == ["the", "of", "and"]
    assert_array_equal(emb.vectors, [[0.5, -1, 2], [0.25, 2, 3], [1, 1, 1]])
    assert Embeddings.load_word2vec_format(path, no_header=True, limit=2).keys == ["the", "of"]
    with pytest.raises(ValueError, match="no_header=True"):  # the header error names the fix
        Embeddings.load_word2vec_format(path)
    with pytest.raises(ValueError, match="text files"):
        Embeddings.load_word2vec_format(path, no_header=True, binary=True)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"the 1 2\nof 1\n")
    with pytest.raises(ValueError, match=r"line 2 \(key 'of'\): expected a key and 2 values"):
        Embeddings.load_word2vec_format(bad, no_header=True)


def test_lone_surrogate_key_is_refused_at_write_time(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    with pytest.raises(ValueError, match="cannot be encoded as UTF-8"):
        Embeddings(["ok", "bad\ud800"], np.eye(2)).save_word2vec_format(path)
    assert not path.exists()


@pytest.mark.parametrize("key", ["a b", "a\tb", "a\nb", "a\u2028b", "a\xa0b", ""])
def test_whitespace_keys_are_refused_at_write_time(tmp_path: Path, key: str) -> None:
    path = tmp_path / "v.bin"
    with pytest.raises(ValueError, match="empty or contains whitespace"):
        Embeddings(["ok", key], np.eye(2)).save_word2vec_format(path, binary=True)
    assert not path.exists()


#: tmp_path is shared by the examples of one test; each example overwrites its files
FIXTURE_OK = [HealthCheck.function_scoped_fixture]
# a key the reader can meet in a text file: no space, no newline (anything else, any Unicode)
file_keys = st.text(st.characters(codec="utf-8", exclude_characters=" \n"), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None, suppress_health_check=FIXTURE_OK)
@given(keys=st.lists(file_keys, min_size=1, max_size=6, unique=True))
def test_every_key_read_is_written_back_identically_or_refused(
    tmp_path: Path, keys: list[str]
) -> None:
    """Read odd keys from a file, write them back (text and binary), read them again."""
    source = tmp_path / "odd.txt"
    vectors = np.arange(len(keys) * 2, dtype=np.float32).reshape(-1, 2) / 3
    rows = "".join(f"{k} {' '.join(map(str, v))}\n" for k, v in zip(keys, vectors, strict=True))
    source.write_bytes(f"{len(keys)} 2\n".encode() + rows.encode("utf-8"))
    emb = Embeddings.load_word2vec_format(source, binary=False)
    assert emb.keys == keys
    for binary in (False, True):
        out = tmp_path / f"back-{binary}.w2v"
        out.unlink(missing_ok=True)
        if any(ch.isspace() for k in keys for ch in k):
            with pytest.raises(ValueError, match="whitespace"):
                emb.save_word2vec_format(out, binary=binary)
            assert not out.exists()
            continue
        emb.save_word2vec_format(out, binary=binary)
        back = Embeddings.load_word2vec_format(out, binary=binary)
        assert back.keys == keys
        assert_array_equal(back.vectors, emb.vectors)


# ---------------------------------------------------------------------------------- vs gensim
@pytest.mark.reference
@pytest.mark.parametrize(("data", "binary"), [(CUT_TEXT, False), (CUT_BINARY, True)])
@pytest.mark.parametrize("errors", ["replace", "ignore"])
def test_unicode_errors_match_gensim(
    tmp_path: Path, data: bytes, binary: bool, errors: str
) -> None:
    keyedvectors = pytest.importorskip("gensim.models.keyedvectors")
    path = tmp_path / "cut.w2v"
    path.write_bytes(data)
    kv = keyedvectors.KeyedVectors.load_word2vec_format(
        str(path), binary=binary, unicode_errors=errors
    )
    ours = Embeddings.load_word2vec_format(path, unicode_errors=errors)  # type: ignore[arg-type]
    assert ours.keys == list(kv.index_to_key)
    assert_array_equal(ours.vectors, kv.vectors)


@pytest.mark.reference
def test_no_header_matches_gensim(tmp_path: Path) -> None:
    keyedvectors = pytest.importorskip("gensim.models.keyedvectors")
    path = tmp_path / "glove.txt"
    path.write_bytes(GLOVE)
    kv = keyedvectors.KeyedVectors.load_word2vec_format(str(path), no_header=True)
    ours = Embeddings.load_word2vec_format(path, no_header=True)
    assert ours.keys == list(kv.index_to_key)
    assert_array_equal(ours.vectors, kv.vectors)


@pytest.mark.reference
@settings(max_examples=60, deadline=None, suppress_health_check=FIXTURE_OK)
@given(keys=st.lists(file_keys, min_size=1, max_size=5, unique=True))
def test_odd_keys_read_as_gensim_reads_them(tmp_path: Path, keys: list[str]) -> None:
    """Text files with odd keys: our keys are gensim's, and what we write gensim reads back."""
    keyedvectors = pytest.importorskip("gensim.models.keyedvectors")
    source = tmp_path / "odd.txt"
    rows = "".join(f"{k} {i} {-i}\n" for i, k in enumerate(keys))
    source.write_bytes(f"{len(keys)} 2\n".encode() + rows.encode("utf-8"))
    kv = keyedvectors.KeyedVectors.load_word2vec_format(str(source))
    emb = Embeddings.load_word2vec_format(source)
    assert emb.keys == list(kv.index_to_key)
    if not any(ch.isspace() for k in keys for ch in k):
        for binary in (False, True):
            out = tmp_path / f"ours-{binary}.w2v"
            emb.save_word2vec_format(out, binary=binary)
            back = keyedvectors.KeyedVectors.load_word2vec_format(str(out), binary=binary)
            assert list(back.index_to_key) == keys


# ---------------------------------------------------------------------------------- CLI
def test_cli_reads_cut_keys_and_glove_files(tmp_path: Path) -> None:
    cut = tmp_path / "cut.bin"
    cut.write_bytes(CUT_BINARY)
    glove = tmp_path / "glove.txt"
    glove.write_bytes(GLOVE)
    runner = CliRunner()
    result = runner.invoke(cli, ["similar", str(cut), "abc", "--json"])
    assert result.exit_code == 2 and "--unicode-errors replace" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(
        cli, ["similar", str(cut), "abc", "--json", "--unicode-errors", "replace"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["neighbors"][0]["key"] == "caf\ufffd"
    result = runner.invoke(cli, ["similar", str(glove), "the", "-k", "1", "--no-header"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "glove.w2v"
    result = runner.invoke(
        cli, ["export", str(glove), "--no-header", "--out", str(out), "--binary"]
    )
    assert result.exit_code == 0, result.output
    assert Embeddings.load_word2vec_format(out).keys == ["the", "of", "and"]
