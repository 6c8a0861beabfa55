"""The embedrec command line: each command against the API it wraps, and its error handling."""

import dataclasses
import json
import logging
import re

import numpy as np
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from embedrec import Embeddings, Word2Vec, Word2VecConfig, __version__
from embedrec.artifacts import resolve_artifact
from embedrec.cli.main import cli
from embedrec.data.synthetic import topic_corpus

N_TOPICS, WORDS_PER_TOPIC = 4, 10
TRAIN_FLAGS = "--dim 16 --min-count 1 --sample 0 --epochs 4 --workers 1 --seed 5".split()


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def topic_of(word):
    return int(word[1 : word.index("_")])


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    sentences, _ = topic_corpus(N_TOPICS, WORDS_PER_TOPIC, n_sentences=1000, seed=0)
    path = tmp_path_factory.mktemp("corpus") / "topics.txt"
    path.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus_file, tmp_path_factory):
    """(model dir, JSON summary) of one CLI training run shared by the query tests."""
    out = tmp_path_factory.mktemp("models") / "w2v"
    result = run("-q", "word2vec", "train", corpus_file, "--out", out, *TRAIN_FLAGS, "--json")
    return out, json.loads(result.stdout)


@pytest.fixture(scope="module")
def bench_files(tmp_path_factory):
    """A small analogy file (one OOV question) and two word-pair files."""
    d = tmp_path_factory.mktemp("bench")
    analogies = d / "questions.txt"
    analogies.write_text(
        ": same-topic\n"
        "t0_w0 t0_w1 t1_w0 t1_w1\n"
        "t2_w0 t2_w1 t3_w0 t3_w1\n"
        ": with-oov\n"
        "t0_w0 t0_w2 unknown t1_w2\n"
        "t1_w0 t1_w3 t2_w0 t2_w3\n",
        encoding="utf-8",
    )
    # human scores: 9 for same-topic pairs, 1 for cross-topic pairs
    lines = ["word1\tword2\tscore"]
    for t in range(N_TOPICS):
        u = (t + 1) % N_TOPICS
        lines += [f"t{t}_w{j}\tt{t}_w{j + 1}\t9.0" for j in range(3)]
        lines += [f"t{t}_w{j}\tt{u}_w{j}\t1.0" for j in range(3)]
    pairs = d / "pairs.tsv"
    pairs.write_text("\n".join(lines) + "\nt0_w0\tnot_a_word\t5.0\n", encoding="utf-8")
    pairs2 = d / "pairs2.tsv"
    pairs2.write_text("t0_w0\tt0_w1\t8\nt0_w0\tt2_w5\t2\nt1_w1\tt1_w2\t7\n", encoding="utf-8")
    return analogies, pairs, pairs2


# ---------------------------------------------------------------------------------- train
def test_train_summary_and_saved_model(trained):
    out, summary = trained
    assert summary["vocab_size"] == N_TOPICS * WORDS_PER_TOPIC
    assert summary["dim"] == 16
    assert len(summary["loss"]) == len(summary["epochs"]) == 4
    assert all(np.isfinite(summary["loss"])) and all(x > 0 for x in summary["loss"])
    assert summary["loss"][-1] < summary["loss"][0]
    assert summary["words_per_sec"] > 0
    assert [e["epoch"] for e in summary["epochs"]] == [1, 2, 3, 4]

    model = Word2Vec.load(out)
    assert len(model.embeddings_) == summary["vocab_size"]
    # the given flags reach the config; every other field keeps the dataclass default
    given = {"dim": 16, "min_count": 1, "sample": 0.0, "epochs": 4, "workers": 1, "seed": 5}
    assert model.config == dataclasses.replace(Word2VecConfig(), **given)
    assert summary["config"] == model.config.to_dict()


def test_train_reads_directories_and_several_files(corpus_file, tmp_path):
    d = tmp_path / "dir"
    d.mkdir()
    lines = corpus_file.read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "a.txt").write_text("".join(lines[:500]), encoding="utf-8")
    (d / "b.txt").write_text("".join(lines[500:]), encoding="utf-8")
    flags = "--dim 4 --min-count 1 --epochs 1 --workers 1 --json".split()
    one = run("-q", "word2vec", "train", corpus_file, "--out", tmp_path / "m1", *flags)
    both = run("-q", "word2vec", "train", d, "--out", tmp_path / "m2", *flags)
    files = run(
        "-q", "word2vec", "train", d / "a.txt", d / "b.txt", "--out", tmp_path / "m3", *flags
    )
    sizes = [json.loads(r.stdout)["vocab_size"] for r in (one, both, files)]
    assert sizes == [N_TOPICS * WORDS_PER_TOPIC] * 3
    assert (
        Word2Vec.load(tmp_path / "m2").embeddings_.keys
        == Word2Vec.load(tmp_path / "m3").embeddings_.keys
    )


def test_config_file_with_flag_override(corpus_file, tmp_path):
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        'arch = "cbow"\nloss = "hs"\ndim = 8\nwindow = 3\nepochs = 1\nmin_count = 1\n'
        "cbow_mean = false\n",
        encoding="utf-8",
    )
    out = tmp_path / "m"
    flags = ["--config", cfg, "--window", "2", "--cbow-mean"]
    run("-q", "word2vec", "train", corpus_file, "--out", out, *flags)
    manifest = resolve_artifact(out)[0] / "manifest.json"
    saved = json.loads(manifest.read_text(encoding="utf-8"))["config"]
    expected = dataclasses.replace(
        Word2VecConfig(),
        arch="cbow",
        loss="hs",
        dim=8,
        window=2,
        epochs=1,
        min_count=1,
        cbow_mean=True,
    )
    assert saved == expected.to_dict()


def test_help_has_a_flag_for_every_config_field():
    text = run("word2vec", "train", "--help").stdout
    for field in dataclasses.fields(Word2VecConfig):
        assert "--" + field.name.replace("_", "-") in text
    assert "--cbow-sum" in text and "[exact|sequential|batch]" in text
    assert "--no-shrink-windows" in text
    assert "[skipgram|cbow]" in text and "[neg|hs]" in text
    assert f"[default: {Word2VecConfig().window}]" in text


def test_quiet_silences_logs_and_logging_state_is_restored(corpus_file, tmp_path):
    logger = logging.getLogger("embedrec")
    before = (logger.level, logger.propagate, list(logger.handlers))
    flags = "--dim 4 --min-count 1 --epochs 1 --workers 1".split()
    loud = run("word2vec", "train", corpus_file, "--out", tmp_path / "a", *flags)
    assert "epoch 1/1" in loud.stderr
    quiet = run("-q", "word2vec", "train", corpus_file, "--out", tmp_path / "b", *flags, "--json")
    assert quiet.stderr == ""
    assert json.loads(quiet.stdout)["vocab_size"] == N_TOPICS * WORDS_PER_TOPIC
    assert (logger.level, logger.propagate, list(logger.handlers)) == before


# ---------------------------------------------------------------------------------- eval
def test_eval_analogies_and_pairs(trained, bench_files):
    out, _ = trained
    analogies, pairs, pairs2 = bench_files
    args = ["--analogies", analogies, "--pairs", pairs, "--pairs", pairs2]
    cmd = ["-q", "word2vec", "eval", out, *args, "--restrict-vocab", 30000, "--json"]
    res = json.loads(run(*cmd).stdout)
    assert set(res) == {"analogies", "pairs"}
    an = res["analogies"]
    assert [s["section"] for s in an["sections"]] == ["same-topic", "with-oov"]
    assert [s["correct"] + s["incorrect"] for s in an["sections"]] == [2, 1]
    assert an["oov_questions"] == 1
    assert an["oov_ratio"] == pytest.approx(1 / 4)
    assert 0.0 <= an["total"]["accuracy"] <= 1.0
    assert set(res["pairs"]) == {str(pairs), str(pairs2)}
    for r in res["pairs"].values():
        assert -1.0 <= r["pearson"] <= 1.0 and -1.0 <= r["spearman"] <= 1.0
        assert 0.0 <= r["pearson_pvalue"] <= 1.0
    p = res["pairs"][str(pairs)]
    assert (p["pairs"], p["oov_pairs"]) == (24, 1)
    assert p["oov_ratio"] == pytest.approx(1 / 25)
    # the model separates the planted topics, so same-topic pairs score higher
    assert p["spearman"] > 0.5


def test_eval_same_answers_from_directory_and_word2vec_file(trained, bench_files, tmp_path):
    out, _ = trained
    analogies, pairs, _ = bench_files
    w2v_file = tmp_path / "v.bin"
    run("-q", "export", out, "--binary", "--out", w2v_file)
    args = ["--analogies", analogies, "--pairs", pairs, "--method", "3cosmul", "--json"]
    from_dir = json.loads(run("-q", "word2vec", "eval", out, *args).stdout)
    from_file = json.loads(run("-q", "word2vec", "eval", w2v_file, *args).stdout)
    assert from_dir["analogies"] == from_file["analogies"]
    assert from_dir["pairs"][str(pairs)]["spearman"] == pytest.approx(
        from_file["pairs"][str(pairs)]["spearman"], rel=1e-6
    )


def test_eval_needs_a_benchmark(trained):
    result = run("word2vec", "eval", trained[0], ok=False)
    assert result.exit_code == 2
    assert "--analogies" in result.stderr


def test_train_prints_a_readable_summary_by_default(corpus_file, tmp_path):
    flags = "--dim 4 --min-count 1 --epochs 3 --workers 1".split()
    out = run("-q", "word2vec", "train", corpus_file, "--out", tmp_path / "m", *flags).stdout
    lines = out.splitlines()
    fields = dict(line.split(":  ", 1) for line in lines[: lines.index("")])
    assert fields["vocabulary"].strip() == f"{N_TOPICS * WORDS_PER_TOPIC} words, vectors of dim 4"
    assert fields["tokens"].strip() == "whitespace-separated, as they are"
    table = lines[lines.index("per epoch:") + 1 :]
    assert table[0].split() == ["epoch", "loss", "words/s", "words", "seconds"]
    assert [row.split()[0] for row in table[1:]] == ["1", "2", "3"]


def test_eval_table_leaves_out_sections_without_an_answerable_question(trained, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(
        ": answerable\nt0_w0 t0_w1 t1_w0 t1_w1\nt2_w0 t2_w1 t3_w0 t3_w1\n"
        ": all-unknown\nzz t0_w1 t1_w0 t1_w1\nt0_w0 yy t1_w0 t1_w1\n",
        encoding="utf-8",
    )
    text = run("-q", "word2vec", "eval", trained[0], "--analogies", questions).stdout
    rows = [line.split()[0] for line in text.splitlines()[2:4]]
    assert rows == ["answerable", "total"]
    assert "all-unknown" not in text and "(0/0)" not in text
    # 2 of the 4 questions have a word outside the vocabulary
    assert "with unknown words:  50.0% (2/4)" in text


def test_eval_compares_case_insensitively_unless_asked(trained, tmp_path):
    questions = tmp_path / "upper.txt"
    questions.write_text(": upper\nT0_W0 T0_W1 T1_W0 T1_W1\n", encoding="utf-8")
    args = ["-q", "word2vec", "eval", trained[0], "--analogies", questions]
    folded = json.loads(run(*args, "--json").stdout)["analogies"]
    assert (folded["questions"], folded["oov_questions"]) == (1, 0)
    exact = json.loads(run(*args, "--json", "--case-sensitive").stdout)["analogies"]
    assert (exact["questions"], exact["oov_questions"]) == (1, 1)
    text = run(*args, "--case-sensitive").stdout
    assert "accuracy:  none: every question has an unknown word" in text
    assert "(0/0)" not in text


def test_normalize_flag_lowercases_and_drops_punctuation(tmp_path):
    corpus = tmp_path / "raw.txt"
    corpus.write_text("The cat, the CAT!\nthe Cat sat.\n" * 20, encoding="utf-8")
    flags = ["--dim", "4", "--min-count", "1", "--epochs", "1", "--workers", "1"]
    run("-q", "word2vec", "train", corpus, "--out", tmp_path / "raw", *flags)
    # whitespace tokens as they are: "The", "cat,", "the", "CAT!", "Cat", "sat."
    raw = Word2Vec.load(tmp_path / "raw").embeddings_.keys
    assert sorted(raw) == sorted(["The", "cat,", "the", "CAT!", "Cat", "sat."])
    out = run("-q", "word2vec", "train", corpus, "--out", tmp_path / "n", *flags, "--normalize")
    assert "lowercase runs of letters (--normalize)" in out.stdout
    # normalised: "the cat the cat" and "the cat sat"
    assert sorted(Word2Vec.load(tmp_path / "n").embeddings_.keys) == ["cat", "sat", "the"]
    res = run("word2vec", "train", corpus, "--out", tmp_path / "x", "--keep-case", ok=False)
    assert res.exit_code == 2 and "add --normalize" in res.stderr


def test_help_texts_say_what_each_flag_does():
    from embedrec.cli._common import field_help
    from embedrec.models.walks import DeepWalkConfig

    helps = field_help(Word2VecConfig)
    assert helps["alpha"] != helps["min_alpha"]
    limits = [helps[n] for n in ("min_count", "max_vocab_size", "max_final_vocab")]
    assert len(set(limits)) == 3 and not any(h == "vocabulary limits" for h in limits)
    # one meaning of --workers on every command: 0 (the shown default) is every core
    for cls in (Word2VecConfig, DeepWalkConfig):
        assert field_help(cls)["workers"].endswith("(0: all cores)")
    assert "None" not in field_help(Word2VecConfig)["workers"]


def test_workers_0_means_every_core(corpus_file, tmp_path):
    flags = "--dim 4 --min-count 1 --epochs 1 --workers 0".split()
    run("-q", "word2vec", "train", corpus_file, "--out", tmp_path / "m", *flags)
    assert Word2Vec.load(tmp_path / "m").config.workers is None


# ---------------------------------------------------------------------------------- similar
def test_similar_json_and_table(trained):
    out, _ = trained
    res = json.loads(run("-q", "similar", out, "t0_w0", "t2_w1", "-k", "5", "--json").stdout)
    assert [r["query"] for r in res] == ["t0_w0", "t2_w1"]
    for r in res:
        keys = [n["key"] for n in r["neighbors"]]
        scores = [n["score"] for n in r["neighbors"]]
        assert len(keys) == 5 and r["query"] not in keys
        assert scores == sorted(scores, reverse=True)
        assert all(topic_of(k) == topic_of(r["query"]) for k in keys)

    lines = run("-q", "similar", out, "t0_w0", "t2_w1", "-k", "3").stdout.splitlines()
    assert lines[0].split() == ["query", "rank", "neighbor", "score"]
    rows = [line.split() for line in lines[1:]]
    assert [(r[0], r[1]) for r in rows] == [
        (q, str(i)) for q in ("t0_w0", "t2_w1") for i in (1, 2, 3)
    ]
    assert [r[2] for r in rows[:3]] == [n["key"] for n in res[0]["neighbors"][:3]]


def test_similar_int_keys(tmp_path):
    # cosine to key 10 = (1, 0): key 20 = (0.8, 0.6) scores 0.8, key 30 = (0, 1) scores 0
    Embeddings([10, 20, 30], [[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]]).save(tmp_path / "e")
    res = json.loads(run("similar", tmp_path / "e", "10", "-k", "2", "--json").stdout)
    assert res[0]["query"] == 10
    assert [n["key"] for n in res[0]["neighbors"]] == [20, 30]
    assert_allclose([n["score"] for n in res[0]["neighbors"]], [0.8, 0.0], atol=1e-6)


# ---------------------------------------------------------------------------------- export
@pytest.mark.parametrize("binary", [False, True])
def test_export_reloads_in_gensim(trained, tmp_path, binary):
    from gensim.models import KeyedVectors

    out, _ = trained
    path = tmp_path / ("v.bin" if binary else "v.txt")
    flags = ["--binary"] if binary else []
    result = run("-q", "export", out, "--format", "word2vec", "--out", path, *flags)
    assert str(path) in result.stdout
    kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    emb = Word2Vec.load(out).embeddings_
    assert list(kv.index_to_key) == emb.keys
    # text rows hold the shortest repr of each float32 and binary rows the raw bytes: exact
    assert_allclose(kv.vectors, emb.vectors, rtol=0, atol=0)


# ---------------------------------------------------------------------------------- misc
def test_version_and_warmup():
    assert __version__ in run("--version").stdout
    out = run("-q", "warmup").stdout
    assert float(re.search(r"(\d+\.\d+)s", out).group(1)) >= 0


def test_quickstart_refuses_a_foreign_directory_before_training(tmp_path):
    (tmp_path / "mine.txt").write_text("precious", encoding="utf-8")
    result = run("quickstart", "--out", tmp_path, ok=False)
    assert result.exit_code == 2
    assert result.stderr.startswith("error:") and "not an embedrec artifact" in result.stderr
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "precious"


# ---------------------------------------------------------------------------------- bad input
# arguments ({corpus}, {tmp} and {model} are filled in) and what the error line must name
BAD_INPUT = {
    "missing corpus file": (
        "word2vec train {tmp}/missing.txt --out {tmp}/m",
        ["missing.txt", "does not exist"],
    ),
    "window 0": ("word2vec train {corpus} --out {tmp}/m --window 0", ["--window 0", "window>=1"]),
    "negative 0 with neg loss": (
        "word2vec train {corpus} --out {tmp}/m --negative 0",
        ["--negative 0", "loss='neg'"],
    ),
    "unknown config key": (
        "word2vec train {corpus} --out {tmp}/m --config {tmp}/unknown.toml",
        ["unknown.toml", "windos"],
    ),
    "config value of the wrong type": (
        "word2vec train {corpus} --out {tmp}/m --config {tmp}/badtype.toml",
        ["shrink_windows='no'", "true or false"],
    ),
    "out dir that is not an artifact": (
        "word2vec train {corpus} --out {tmp}/junk",
        ["junk", "not an embedrec artifact"],
    ),
    "eval of a non-model directory": (
        "word2vec eval {tmp}/junk --pairs {tmp}/p.tsv",
        ["junk", "manifest.json"],
    ),
    "eval of a missing model": (
        "word2vec eval {tmp}/nothing --pairs {tmp}/p.tsv",
        ["nothing", "does not exist"],
    ),
    "similar with an unknown key": ("similar {model} t0_w0 zebra", ["'zebra'"]),
    "similar with k 0": ("similar {model} t0_w0 -k 0", ["k=0", "k >= 1"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_error_line_and_exit_2(case, corpus_file, trained, tmp_path):
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "notes.txt").write_text("x", encoding="utf-8")
    (tmp_path / "unknown.toml").write_text("dim = 8\nwindos = 3\n", encoding="utf-8")
    (tmp_path / "badtype.toml").write_text('shrink_windows = "no"\n', encoding="utf-8")
    template, needles = BAD_INPUT[case]
    args = [a.format(corpus=corpus_file, tmp=tmp_path, model=trained[0]) for a in template.split()]
    result = run(*args, ok=False)
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ")
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[-1]
    assert not (tmp_path / "m").exists()  # nothing was trained or saved
