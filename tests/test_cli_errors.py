"""Bad input everywhere (issue #14 part 4): one clear line naming the problem and the fix, exit
status 2, no traceback, and nothing written at the output path.

Each test is named after the bug it pins; the CLI runs in-process through click's CliRunner.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner, Result

from embedrec.cli.main import _one_line, cli
from embedrec.data.interactions import Interactions, read_interactions
from embedrec.models import _engine
from embedrec.models import word2vec as w2v

W2V_FLAGS = ["--dim", "8", "--min-count", "1", "--epochs", "1", "--workers", "1"]
I2V_FLAGS = ["--user-col", "user", "--item-col", "item", "--dim", "8", "--epochs", "1"]


def run(*args: object) -> Result:
    return CliRunner().invoke(cli, ["-q", *(str(a) for a in args)])


def assert_refused(result: Result, *needles: str, out: Path | None = None) -> str:
    """Exit 2, one ``error:`` line holding every needle, no traceback, nothing at ``out``."""
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.output and "Aborted" not in result.output
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])
    if out is not None:
        assert not out.exists(), f"{out} was written"
    return lines[-1]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("the quick brown fox jumps over the lazy dog\n" * 50, encoding="utf-8")
    return path


@pytest.fixture
def truncated_gz(tmp_path: Path) -> Path:
    text = "".join(f"w{i % 97} w{i % 89} w{i % 83} w{i % 79}\n" for i in range(20_000))
    data = gzip.compress(text.encode())
    path = tmp_path / "corpus.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.fixture
def log_csv(tmp_path: Path) -> Path:
    rows = ["user,item,ts"] + [f"u{i % 5},i{(i * 3) % 7},{i}" for i in range(200)]
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------- 1. gzip
def test_truncated_gz_corpus_is_an_error_not_aborted(tmp_path: Path, truncated_gz: Path) -> None:
    out = tmp_path / "model"
    result = run("word2vec", "train", truncated_gz, "--out", out, *W2V_FLAGS)
    assert_refused(result, str(truncated_gz), "truncated or corrupt gzip", "gzip -t", out=out)


def test_truncated_gz_interaction_log_is_an_error(tmp_path: Path) -> None:
    rows = "user,item\n" + "".join(f"u{i % 50},i{i % 70}\n" for i in range(100_000))
    data = gzip.compress(rows.encode())
    path = tmp_path / "log.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "model"
    result = run("item2vec", "train", path, "--out", out, *I2V_FLAGS)
    assert_refused(result, str(path), "truncated or corrupt", "re-download", out=out)


def test_truncated_gz_graph_is_an_error_not_aborted(tmp_path: Path) -> None:
    edges = "".join(f"{i % 500} {(i * 7) % 500}\n" for i in range(100_000))
    data = gzip.compress(edges.encode())
    path = tmp_path / "edges.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    out = tmp_path / "model"
    result = run("graph", "train", path, "--out", out, "--dim", "8")
    assert_refused(result, "truncated or corrupt gzip", out=out)


# ---------------------------------------------------------------------------------- 2. binary
def test_nul_bytes_corpus_is_refused_as_binary(tmp_path: Path) -> None:
    path = tmp_path / "zeros.txt"
    path.write_bytes(b"\0" * 100_000)
    out = tmp_path / "model"
    result = run("word2vec", "train", path, "--out", out, *W2V_FLAGS)
    assert_refused(result, "zeros.txt, line 1", "NUL byte", "binary file", "UTF-8 text", out=out)


def test_corpus_without_training_example_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "single.txt"
    path.write_text("alpha\nbeta\ngamma\n" * 10, encoding="utf-8")
    out = tmp_path / "model"
    result = run("word2vec", "train", path, "--out", out, *W2V_FLAGS)
    assert_refused(result, "no training example", "two or more", out=out)


# ---------------------------------------------------------------------------------- 3. inf times
def test_inf_timestamps_are_refused_like_nan(tmp_path: Path) -> None:
    rows = ["user,item,ts"] + [f"u{i % 5},i{i % 7},{'inf' if i == 3 else i}" for i in range(60)]
    path = tmp_path / "inf.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "model"
    result = run("item2vec", "train", path, "--time-col", "ts", "--out", out, *I2V_FLAGS)
    assert_refused(result, "infinite", "time column 'ts'", "drop those rows", out=out)
    # dropping them is the documented way out
    kept = read_interactions(
        path, user_col="user", item_col="item", time_col="ts", drop_missing=True
    )
    assert len(kept) == 59 and np.isfinite(kept.time).all()


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_inf_times_refused_by_from_arrays(bad: float) -> None:
    with pytest.raises(ValueError, match="infinite"):
        Interactions.from_arrays(["a", "a"], [1, 2], times=[1.0, bad])


# ---------------------------------------------------------------------------------- 4. latin-1
def test_latin1_log_says_not_utf8_and_how_to_fix(tmp_path: Path) -> None:
    rows = ["user,item"] + [f"u{i % 5},caf\xe9{i % 7}" for i in range(100)]
    path = tmp_path / "latin1.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("latin-1"))
    out = tmp_path / "model"
    result = run("item2vec", "train", path, "--out", out, *I2V_FLAGS)
    line = assert_refused(result, "not valid UTF-8", "--encoding latin-1", "iconv", out=out)
    assert "binary" not in line
    # the fix works
    result = run("item2vec", "train", path, "--out", out, "--encoding", "latin-1", *I2V_FLAGS)
    assert result.exit_code == 0, result.output
    inter = read_interactions(path, user_col="user", item_col="item", encoding="latin-1")
    assert "café0" in inter.item_keys.tolist()


def test_unknown_encoding_is_refused_before_reading(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "model"
    result = run("item2vec", "train", log_csv, "--out", out, "--encoding", "klingon", *I2V_FLAGS)
    assert_refused(result, "--encoding 'klingon'", "latin-1", out=out)


# ---------------------------------------------------------------------------------- 5. --out
def test_out_under_a_file_fails_before_reading_the_corpus(
    tmp_path: Path, truncated_gz: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    out = blocker / "sub" / "model"
    # the corpus is bad too: the --out error must come first, before any reading
    result = run("word2vec", "train", truncated_gz, "--out", out, *W2V_FLAGS)
    assert_refused(result, "--out", "is a file, not a directory", "choose another --out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_out_fails_before_training(tmp_path: Path, truncated_gz: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = run("word2vec", "train", truncated_gz, "--out", folder / "m", *W2V_FLAGS)
        assert_refused(result, "not writable", "choose a writable --out", out=folder / "m")
    finally:
        folder.chmod(0o755)


def test_unwritable_out_fails_before_training(
    tmp_path: Path, truncated_gz: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a read-only file system, also when the tests run as root: the probe file is refused
    import tempfile

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    out = tmp_path / "model"
    result = run("word2vec", "train", truncated_gz, "--out", out, *W2V_FLAGS)
    assert_refused(result, "--out", "not writable", "Read-only file system", out=out)


def test_out_probe_leaves_nothing_behind(tmp_path: Path, corpus: Path) -> None:
    out = tmp_path / "deep" / "model"
    result = run("word2vec", "train", corpus, "--out", out, *W2V_FLAGS)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "deep"]
    assert not [p for p in tmp_path.rglob(".embedrec-probe-*")]


@pytest.mark.parametrize(
    "command",
    [
        ["item2vec", "train", "{log}", "--out", "{out}", *I2V_FLAGS],
        ["graph", "train", "{edges}", "--out", "{out}", "--dim", "8"],
        ["tune", "{log}", "--user-col", "user", "--item-col", "item", "--out-config", "{out}"],
        ["export", "{model}", "--out", "{out}"],
        ["export", "{model}", "--format", "npy", "--out", "{out}"],
    ],
    ids=["item2vec", "graph", "tune", "export", "export-npy"],
)
def test_every_writing_command_checks_its_output_first(
    tmp_path: Path, log_csv: Path, command: list[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    edges = tmp_path / "edges.txt"
    edges.write_text("".join(f"{i} {(i + 1) % 30}\n" for i in range(30)), encoding="utf-8")
    model = tmp_path / "vectors.txt"
    model.write_text("2 2\na 1 0\nb 0 1\n", encoding="utf-8")
    paths = {"log": log_csv, "edges": edges, "model": model, "out": blocker / "out"}
    args = [a.format(**paths) for a in command]
    assert_refused(run(*args), "is a file, not a directory", "choose another")


def test_index_build_checks_the_model_dir_is_writable(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    assert run("word2vec", "train", corpus, "--out", model, *W2V_FLAGS).exit_code == 0
    import tempfile

    def read_only(*args: object, **kwargs: object) -> None:
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = run("index", "build", model, "--kind", "exact")
    assert_refused(result, "not writable", out=model / "index")


# ---------------------------------------------------------------------------------- 6. memory
def test_absurd_dim_is_refused_at_config_time(tmp_path: Path, truncated_gz: Path) -> None:
    out = tmp_path / "model"
    result = run("word2vec", "train", truncated_gz, "--out", out, "--dim", "100000000")
    assert_refused(result, "--dim 100000000 is invalid", "dim <= 65536", out=out)
    with pytest.raises(ValueError, match="dim=100000000 is invalid"):
        w2v.Word2VecConfig(dim=100_000_000)


def test_tables_larger_than_memory_are_refused_before_allocating(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 8 keys x 4096 dims x 4 bytes x 2 tables = 262,144 bytes > the 100 kB "machine"
    monkeypatch.setattr(_engine, "physical_memory", lambda: 100_000)
    out = tmp_path / "model"
    result = run("word2vec", "train", corpus, "--out", out, *W2V_FLAGS, "--dim", "4096")
    line = assert_refused(result, "8 (input) + 8 (output) rows x dim=4096", "lower dim (--dim)")
    assert "needs 256.00 KiB" in line and "97.66 KiB of memory" in line
    assert "--min-count" in line and not out.exists()


def test_walk_models_check_memory_before_walking(monkeypatch: pytest.MonkeyPatch) -> None:
    from embedrec.data.graph import Graph
    from embedrec.models.walks import DeepWalk, DeepWalkConfig

    monkeypatch.setattr(_engine, "physical_memory", lambda: 1_000)
    graph = Graph.from_edges(np.arange(10), (np.arange(10) + 1) % 10)
    called = []
    monkeypatch.setattr(DeepWalk, "walks", lambda *a, **k: called.append(1))
    with pytest.raises(MemoryError, match="lower dim"):
        DeepWalk(DeepWalkConfig(dim=64)).fit(graph, progress=False)
    assert not called


# ---------------------------------------------------------------------------------- 7. seeds
def test_negative_seed_names_the_flag_before_reading(tmp_path: Path, truncated_gz: Path) -> None:
    out = tmp_path / "model"
    result = run("word2vec", "train", truncated_gz, "--out", out, "--seed", "-1")
    assert_refused(result, "--seed -1 is invalid", "0 <= seed", out=out)


def test_item2vec_and_graph_seed_named_before_reading(tmp_path: Path) -> None:
    missing = tmp_path / "broken.csv"
    missing.write_bytes(b"\0\0\0")
    out = tmp_path / "model"
    result = run("item2vec", "train", missing, "--out", out, *I2V_FLAGS, "--seed", "-5")
    assert_refused(result, "--seed -5 is invalid", out=out)
    result = run("graph", "train", missing, "--out", out, "--seed", "-5")
    assert_refused(result, "--seed -5 is invalid", out=out)


def test_bad_value_in_config_file_names_the_file(tmp_path: Path, truncated_gz: Path) -> None:
    cfg = tmp_path / "w2v.toml"
    cfg.write_text("seed = -2\n", encoding="utf-8")
    result = run("word2vec", "train", truncated_gz, "--out", tmp_path / "m", "--config", cfg)
    assert_refused(result, f"{cfg}: seed=-2 is invalid")


@pytest.mark.parametrize(
    "args",
    [
        ["tune", "{log}", "--user-col", "user", "--item-col", "item", "--seed", "-1"],
        ["item2vec", "train", "{log}", *I2V_FLAGS, "--out", "{out}", "--split-seed", "-1"],
        ["quickstart", "--out", "{out}", "--seed", "-1"],
    ],
    ids=["tune", "split-seed", "quickstart"],
)
def test_seed_options_have_a_range(tmp_path: Path, log_csv: Path, args: list[str]) -> None:
    out = tmp_path / "out"
    result = run(*[a.format(log=log_csv, out=out) for a in args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "-1 is not in the range" in result.stderr and not out.exists()


@pytest.mark.parametrize("seed", [-1, 2**63, 1.5, True])
def test_config_seeds_are_validated(seed: object) -> None:
    from embedrec.models.item2vec import Item2VecConfig
    from embedrec.models.walks import DeepWalkConfig

    for cls in (w2v.Word2VecConfig, Item2VecConfig, DeepWalkConfig):
        with pytest.raises(ValueError, match=r"seed=.* is invalid; use an integer 0 <= seed"):
            cls(seed=seed)


def test_two_tower_seed_is_validated() -> None:
    pytest.importorskip("torch")
    from embedrec.models.two_tower.model import TwoTowerConfig

    with pytest.raises(ValueError, match=r"TwoTowerConfig.seed=-1 is invalid"):
        TwoTowerConfig(seed=-1)
    with pytest.raises(ValueError, match=r"TwoTowerConfig.epochs=2.5 is invalid"):
        TwoTowerConfig(epochs=2.5)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- 8. top level
@pytest.mark.parametrize(
    ("exc", "needles"),
    [
        (EOFError("Compressed file ended"), ["ended early", "truncated", "gzip -t"]),
        (MemoryError("Unable to allocate 1.44 TiB"), ["out of memory", "1.44 TiB", "--dim"]),
        (PermissionError(13, "Permission denied", "/x/y"), ["/x/y: Permission denied", "check"]),
        (IsADirectoryError(21, "Is a directory", "/x"), ["/x: Is a directory", "give a file"]),
        (FileNotFoundError("corpus file a.txt does not exist"), ["a.txt does not exist"]),
    ],
)
def test_library_errors_become_one_line_with_exit_2(
    tmp_path: Path,
    corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    exc: Exception,
    needles: list[str],
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(w2v.Word2Vec, "fit", fail)
    out = tmp_path / "model"
    assert_refused(run("word2vec", "train", corpus, "--out", out), *needles, out=out)


def test_real_bugs_keep_their_traceback(
    tmp_path: Path, corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(w2v.Word2Vec, "fit", bug)
    result = run("word2vec", "train", corpus, "--out", tmp_path / "model")
    assert isinstance(result.exception, RuntimeError) and result.exit_code == 1


def test_one_line_joins_multiline_messages() -> None:
    assert _one_line(ValueError("a\n  b")) == "a b"
    assert _one_line(KeyError("k")) == "k"


# ---------------------------------------------------------------------------------- 9. issue #17
def test_normalized_corpus_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.txt"
    path.write_bytes("the caf\xe9 is open\n".encode("latin-1") * 3)
    out = tmp_path / "m"
    result = run("word2vec", "train", path, "--out", out, "--normalize", *W2V_FLAGS)
    assert_refused(result, "latin1.txt, line 1", "not valid UTF-8", "iconv", out=out)


def test_cli_errors_name_the_cli_fix_not_a_python_argument(tmp_path: Path) -> None:
    """The unknown-key messages of the library name the API argument and the CLI flag."""
    from embedrec.data.graph import Graph
    from embedrec.data.graph_io import read_labels
    from embedrec.keys import unknown_keys_error

    assert "--missing skip" in str(unknown_keys_error(["zz"]))
    labels = tmp_path / "labels.txt"
    labels.write_text("1 a\n7 b\n", encoding="utf-8")
    with pytest.raises(KeyError, match="--missing skip"):
        read_labels(labels, Graph.from_edges([1, 2], [2, 3]))


def test_strict_recommend_is_one_error_line(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "m"
    assert run("item2vec", "train", log_csv, "--out", out, *I2V_FLAGS).exit_code == 0
    result = run("recommend", out, "--history", "i1,nope", "--strict")
    assert_refused(result, "--strict", "['nope']", "leave out --strict")


def test_history_file_that_does_not_exist_is_a_usage_error(tmp_path: Path, log_csv: Path) -> None:
    out = tmp_path / "m"
    assert run("item2vec", "train", log_csv, "--out", out, *I2V_FLAGS).exit_code == 0
    result = run("recommend", out, "--history-file", tmp_path / "none.txt")
    assert result.exit_code == 2 and "none.txt" in result.stderr
