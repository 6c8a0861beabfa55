"""Word2Vec behaviour: planted structure, determinism, loss, long sentences, bad input."""

import dataclasses
import gzip
import json

import numpy as np
import pytest

from embedrec import Word2Vec, Word2VecConfig
from embedrec.artifacts import resolve_artifact
from embedrec.data.synthetic import topic_corpus
from embedrec.models._engine import SHARE_MODES, init_weights

COMBOS = [(a, lo) for a in ("skipgram", "cbow") for lo in ("neg", "hs")]


@pytest.fixture(scope="module")
def topics():
    return topic_corpus(n_topics=8, words_per_topic=25, n_sentences=3000, seed=0)


def in_cluster_rate(model, topic_of, k=10):
    keys = list(topic_of)
    res = model.most_similar(keys, k=k)
    hits = [
        [topic_of[n] == topic_of[q] for n in row] for q, row in zip(keys, res.keys, strict=True)
    ]
    return float(np.mean(hits))


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_planted_topics_are_recovered(topics, arch, loss):
    sentences, topic_of = topics
    cfg = Word2VecConfig(
        arch=arch, loss=loss, dim=32, window=5, min_count=1, sample=0, epochs=5, workers=2, seed=3
    )
    model = Word2Vec(cfg).fit(sentences, progress=False)
    assert in_cluster_rate(model, topic_of) >= 0.9


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_exact_per_pair_mode_also_learns(topics, arch, loss):
    sentences, topic_of = topics
    cfg = Word2VecConfig(
        arch=arch,
        loss=loss,
        dim=32,
        min_count=1,
        sample=0,
        epochs=5,
        workers=1,
        window_update="exact",
    )
    assert in_cluster_rate(Word2Vec(cfg).fit(sentences, progress=False), topic_of) >= 0.9


@pytest.mark.parametrize("loss", ["neg", "hs"])
def test_window_sequential_mode_also_learns(topics, loss):
    sentences, topic_of = topics
    cfg = Word2VecConfig(
        loss=loss,
        dim=32,
        min_count=1,
        sample=0,
        epochs=5,
        workers=2,
        window_update="sequential",
    )
    assert in_cluster_rate(Word2Vec(cfg).fit(sentences, progress=False), topic_of) >= 0.9


def test_hs_window_sequential_is_the_exact_per_pair_update(topics):
    # a Huffman path is fixed per center (no draws), so sharing it across the window and
    # updating pair after pair is the exact word2vec.c update, bit for bit; the mini-batch
    # update of the same shared path is a different computation
    sentences, _ = topics
    common = dict(loss="hs", dim=16, min_count=1, sample=0, epochs=1, workers=1, seed=5)
    exact = Word2Vec(Word2VecConfig(**common, window_update="exact")).fit(
        sentences[:300], progress=False
    )
    seq = Word2Vec(Word2VecConfig(**common, window_update="sequential")).fit(
        sentences[:300], progress=False
    )
    batch = Word2Vec(Word2VecConfig(**common, window_update="batch")).fit(
        sentences[:300], progress=False
    )
    assert np.array_equal(exact.embeddings_.vectors, seq.embeddings_.vectors)
    assert not np.allclose(exact.embeddings_.vectors, batch.embeddings_.vectors, atol=1e-6)


def test_one_worker_is_bit_reproducible(topics):
    sentences, _ = topics
    cfg = Word2VecConfig(dim=16, min_count=1, epochs=2, workers=1, seed=11)
    a = Word2Vec(cfg).fit(sentences, progress=False)
    b = Word2Vec(cfg).fit(sentences, progress=False)
    assert np.array_equal(a.embeddings_.vectors, b.embeddings_.vectors)
    assert a.loss_history_ == b.loss_history_
    c = Word2Vec(Word2VecConfig(dim=16, min_count=1, epochs=2, workers=1, seed=12)).fit(
        sentences, progress=False
    )
    assert not np.array_equal(a.embeddings_.vectors, c.embeddings_.vectors)


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_loss_decreases_and_matches_across_worker_counts(topics, arch, loss):
    sentences, _ = topics
    hist = {}
    for workers in (1, 2):
        cfg = Word2VecConfig(
            arch=arch, loss=loss, dim=24, min_count=1, epochs=4, workers=workers, seed=5
        )
        m = Word2Vec(cfg).fit(sentences, progress=False)
        hist[workers] = m.loss_history_
        assert all(np.isfinite(m.loss_history_))
        assert m.loss_history_[-1] < m.loss_history_[0]
    # per-example loss of the last epoch: the same in expectation for 1 and 2 workers
    assert hist[2][-1] == pytest.approx(hist[1][-1], rel=0.05)


def test_epoch_stats_and_callbacks(topics):
    sentences, _ = topics
    seen = []
    cfg = Word2VecConfig(dim=8, min_count=1, epochs=3, sample=0, workers=2)
    m = Word2Vec(cfg).fit(
        sentences, progress=False, callbacks=[lambda mdl, ep, st: seen.append((ep, st["loss"]))]
    )
    assert [e for e, _ in seen] == [0, 1, 2]
    assert [lo for _, lo in seen] == m.loss_history_
    # sample=0: every token is an effective word in every epoch
    assert all(s["effective_words"] == 3000 * 12 for s in m.epoch_stats_)


def test_long_session_not_truncated():
    # one 50,000-token sentence; the words "late*" occur only after position 45,000, which a
    # 10,000-token cut (gensim's) would never train
    rng = np.random.default_rng(0)
    early = [f"e{i}" for i in rng.integers(0, 50, 45_000)]
    late = [f"late{i}" for i in rng.integers(0, 20, 5_000)]
    cfg = Word2VecConfig(dim=16, min_count=1, sample=0, epochs=1, workers=1, seed=2)
    model = Word2Vec(cfg).fit([early + late], progress=False)
    assert model.epoch_stats_[0]["effective_words"] == 50_000
    init, _ = init_weights(len(model.vocab_), len(model.vocab_), cfg.dim, cfg.seed)
    for w in ("late0", "late7", "late19"):
        row = model.vocab_.key_to_index[w]
        assert not np.allclose(model.embeddings_.vectors[row], init[row])


def test_int_tokens_need_no_casting():
    sessions = [[1, 2, 3, 4] * 3, [3, 4, 5, 6] * 3, [np.int64(7), 8, 9]] * 40
    m = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)).fit(
        sessions, progress=False
    )
    assert set(m.embeddings_.keys) == set(range(1, 10))
    assert all(type(k) is int for k in m.embeddings_.keys)
    assert m.most_similar(3, k=3).keys.shape == (3,)


def test_numpy_sessions_and_recommend():
    sessions = [np.array([1, 2, 3, 4]), np.array([2, 3, 4, 5])] * 60
    m = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=2, workers=1)).fit(
        sessions, progress=False
    )
    rec = m.recommend([2, 3], k=3, exclude_seen=True)
    assert 2 not in rec.keys.tolist() and 3 not in rec.keys.tolist()


@pytest.mark.parametrize("arch,loss", COMBOS)
def test_ns_exponent_any_real_trains(topics, arch, loss):
    sentences, _ = topics
    for e in (0.0, -0.5, 1.0):
        cfg = Word2VecConfig(
            arch=arch, loss=loss, ns_exponent=e, dim=8, min_count=1, epochs=1, workers=1
        )
        m = Word2Vec(cfg).fit(sentences[:300], progress=False)
        assert np.all(np.isfinite(m.embeddings_.vectors))


def test_vocab_limits():
    sents = [["a"] * 50 + ["b"] * 20 + ["c"] * 5 + ["d"] * 2]
    m = Word2Vec(Word2VecConfig(dim=4, min_count=3, epochs=1, workers=1)).fit(sents, progress=False)
    assert m.embeddings_.keys == ["a", "b", "c"]
    m = Word2Vec(Word2VecConfig(dim=4, min_count=1, max_final_vocab=2, epochs=1, workers=1)).fit(
        sents, progress=False
    )
    assert m.embeddings_.keys == ["a", "b"]
    assert m.vocab_.counts.tolist() == [50, 20]


def test_reads_text_gz_and_directories(tmp_path, topics):
    sentences, _ = topics
    text = "\n".join(" ".join(s) for s in sentences) + "\n"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text(text[: len(text) // 2].rsplit("\n", 1)[0] + "\n\n\n")
    with gzip.open(tmp_path / "d" / "b.txt.gz", "wt") as fh:
        fh.write(text[len(text[: len(text) // 2].rsplit("\n", 1)[0]) + 1 :])
    cfg = Word2VecConfig(dim=16, min_count=1, epochs=1, workers=1, sample=0)
    from_dir = Word2Vec(cfg).fit(tmp_path / "d", progress=False)
    from_list = Word2Vec(cfg).fit(sentences, progress=False)
    # blank lines are skipped: the directory holds exactly the same corpus
    assert from_dir.embeddings_.keys == from_list.embeddings_.keys
    assert np.array_equal(from_dir.embeddings_.vectors, from_list.embeddings_.vectors)


def test_save_load_round_trip(tmp_path, topics):
    sentences, _ = topics
    m = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)).fit(
        sentences, progress=False
    )
    m.save(tmp_path / "m")
    live, generation = resolve_artifact(tmp_path / "m")
    assert generation == "gen-000001"
    manifest = json.loads((live / "manifest.json").read_text())
    assert manifest["class"] == "Word2Vec" and manifest["config"]["dim"] == 8
    assert set(manifest["files"]) == {"keys.json", "vectors.npy", "counts.npy"}
    m2 = Word2Vec.load(tmp_path / "m")
    assert m2.config == m.config
    assert np.array_equal(m2.embeddings_.vectors, m.embeddings_.vectors)
    a, b = m.most_similar("t0_w0", k=5), m2.most_similar("t0_w0", k=5)
    assert a.keys.tolist() == b.keys.tolist()
    assert not list(tmp_path.glob(".*tmp"))
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [".lock", "CURRENT", generation]


def test_failed_save_keeps_previous_model(tmp_path, topics, monkeypatch):
    sentences, _ = topics
    m = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)).fit(
        sentences, progress=False
    )
    m.save(tmp_path / "m")
    before = (tmp_path / "m" / "gen-000001" / "vectors.npy").read_bytes()
    import embedrec.models.base as w2v  # the shared model-directory writer

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(w2v, "write_json", boom)
    with pytest.raises(OSError, match="disk full"):
        m.save(tmp_path / "m")
    assert resolve_artifact(tmp_path / "m")[1] == "gen-000001"
    assert (tmp_path / "m" / "gen-000001" / "vectors.npy").read_bytes() == before
    assert Word2Vec.load(tmp_path / "m").embeddings_.keys == m.embeddings_.keys
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    # no staging directory is left in the model directory either
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == [".lock", "CURRENT", "gen-000001"]


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"window": 0}, "window=0 is invalid; use an integer window>=1"),
        ({"dim": 0}, "dim=0 is invalid"),
        ({"negative": 0}, "negative=0 with loss='neg'"),
        ({"arch": "sg"}, "arch='sg' is invalid"),
        ({"loss": "softmax"}, "loss='softmax' is invalid"),
        ({"min_alpha": 1.0}, "min_alpha=1.0 is invalid"),
        ({"sample": -1.0}, "sample=-1.0 is invalid"),
        ({"workers": 0}, "workers=0 is invalid"),
        ({"ns_exponent": float("nan")}, "ns_exponent=nan is invalid"),
        ({"window_update": "async"}, "window_update='async' is invalid; use 'batch'"),
    ],
)
def test_bad_config_names_field_and_fix(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Word2VecConfig(**kwargs)


def test_negative_zero_is_fine_with_hs():
    assert Word2VecConfig(loss="hs", negative=0).negative == 0


def test_empty_corpus(tmp_path):
    (tmp_path / "empty.txt").write_text("\n\n   \n")
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec().fit(tmp_path / "empty.txt", progress=False)
    with pytest.raises(ValueError, match="corpus is empty"):
        Word2Vec().fit([], progress=False)


def test_nothing_reaches_min_count():
    with pytest.raises(ValueError, match=r"no token reaches min_count=5 .*lower min_count"):
        Word2Vec().fit([["a", "b", "c"]] * 2, progress=False)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        Word2Vec().fit(tmp_path / "nope.txt", progress=False)


def test_undecodable_bytes_name_the_line(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes(b"good line here\nsecond line\ncaf\xe9 au lait\n")
    with pytest.raises(ValueError, match=r"line 3: bytes are not valid UTF-8"):
        Word2Vec().fit(p, progress=False)


def test_string_sentences_are_refused():
    with pytest.raises(TypeError, match="sentences must be sequences of tokens"):
        Word2Vec(Word2VecConfig(min_count=1)).fit(iter(["a b c", "d e"]), progress=False)
    with pytest.raises(TypeError, match="not existing files"):
        Word2Vec(Word2VecConfig(min_count=1)).fit(["a b c", "d e"], progress=False)


def test_float_tokens_are_refused():
    with pytest.raises(TypeError, match="tokens must be str or int"):
        Word2Vec(Word2VecConfig(min_count=1)).fit([[1.5, 2.5]], progress=False)


@pytest.mark.parametrize(
    "damage",
    ["no_manifest", "bad_json", "foreign", "truncated_npy", "wrong_class", "future_version"],
)
def test_corrupt_or_foreign_model_directory(tmp_path, topics, damage):
    sentences, _ = topics
    m = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)).fit(
        sentences[:200], progress=False
    )
    d = tmp_path / "m"
    m.save(d)
    gen = resolve_artifact(d)[0]  # damage the saved generation's files
    man = gen / "manifest.json"
    if damage == "no_manifest":
        man.unlink()
    elif damage == "bad_json":
        man.write_text("{not json")
    elif damage == "foreign":
        man.write_text(json.dumps({"hello": "world"}))
    elif damage == "truncated_npy":
        data = (gen / "vectors.npy").read_bytes()
        (gen / "vectors.npy").write_bytes(data[: len(data) // 2])
    elif damage == "wrong_class":
        man.write_text(man.read_text().replace('"Word2Vec"', '"Item2Vec"'))
    elif damage == "future_version":
        man.write_text(man.read_text().replace('"format_version": 1', '"format_version": 99'))
    with pytest.raises(ValueError) as err:
        Word2Vec.load(d)
    assert str(d) in str(err.value) or "manifest" in str(err.value)


def test_window_batching_defaults_per_loss():
    # shared negatives by default; hierarchical softmax runs exactly (quality, see docstring)
    def update(**kw):
        return Word2VecConfig(**kw).engine_settings().window_update

    assert update(loss="neg") == "batch"
    assert Word2VecConfig(arch="skipgram").start_alpha == 0.025  # word2vec.c's defaults
    assert Word2VecConfig(arch="cbow").start_alpha == 0.05
    assert Word2VecConfig(arch="cbow", alpha=0.01).start_alpha == 0.01
    assert update(loss="hs") == "exact"
    assert update(loss="hs", window_update="batch") == "batch"
    assert update(loss="neg", window_update="exact") == "exact"
    # the kernel's share_mode: 0 exact per pair, 1 window mini-batch, 2 window sequential
    assert SHARE_MODES[update(loss="neg")] == 1
    assert SHARE_MODES[update(loss="neg", window_update="sequential")] == 2
    assert SHARE_MODES[update(loss="hs")] == 0
    assert SHARE_MODES[update(window_update="exact")] == 0


def test_one_name_for_the_window_update_choice():
    """Regression: shared_negatives / window_update / window_batches / share_mode were four
    names for one choice, and contradictory combinations were silently ignored."""
    msg = "window_update='batch' is invalid; use None or 'exact' with arch"
    with pytest.raises(ValueError, match=msg):
        Word2VecConfig(arch="cbow", window_update="batch")
    assert Word2VecConfig(arch="cbow").window_update is None
    assert Word2VecConfig(arch="cbow", window_update="exact").window_update == "exact"
    # the deprecated argument still works, with a warning naming the replacement
    with pytest.warns(DeprecationWarning, match="window_update='exact'"):
        assert Word2VecConfig(shared_negatives=False).window_update == "exact"
    with pytest.warns(DeprecationWarning, match="window_update='sequential'"):
        cfg = Word2VecConfig(shared_negatives=True, window_update="sequential")
    assert cfg.window_update == "sequential"
    assert "shared_negatives" not in cfg.to_dict()
    assert dataclasses.replace(cfg, dim=8).window_update == "sequential"


@pytest.mark.parametrize(
    "old,new,trained_as",
    [
        # the old rule: shared = (loss == "neg") when None; "exact" unless shared, else
        # window_update; CBOW read neither field
        ({"shared_negatives": None, "window_update": "batch"}, None, "batch"),
        ({"shared_negatives": None, "window_update": "sequential"}, "sequential", "sequential"),
        ({"shared_negatives": None, "window_update": "batch", "loss": "hs"}, None, "exact"),
        ({"shared_negatives": None, "window_update": "sequential", "loss": "hs"}, "exact", "exact"),
        ({"shared_negatives": True, "window_update": "batch", "loss": "hs"}, "batch", "batch"),
        ({"shared_negatives": False, "window_update": "sequential"}, "exact", "exact"),
        ({"shared_negatives": None, "window_update": "batch", "arch": "cbow"}, None, None),
        ({"shared_negatives": False, "window_update": "batch", "arch": "cbow"}, None, None),
    ],
)
def test_old_saved_configs_keep_their_training_mode(old, new, trained_as):
    # saves made before window_update took over shared_negatives
    cfg = Word2VecConfig.from_dict(old)
    assert cfg.window_update == new
    if trained_as is not None:
        assert cfg.engine_settings().window_update == trained_as


def test_corpus_without_training_example_is_refused():
    """Regression: one-token sentences gave no (center, context) pair, yet "trained"."""
    with pytest.raises(ValueError, match="yields no training example"):
        Word2Vec(Word2VecConfig(dim=4, min_count=1, epochs=1, workers=1)).fit(
            [["a"], ["b"]], progress=False
        )


def test_save_with_an_epoch_without_examples(tmp_path):
    """Regression: an epoch with no training example has loss NaN; saving wrote invalid JSON."""
    m = Word2Vec(Word2VecConfig(dim=4, min_count=1, epochs=1, workers=1)).fit(
        [["a", "b"]], progress=False
    )
    m.loss_history_[0] = float("nan")  # as an epoch whose words were all subsampled away
    m.save(tmp_path / "m")
    assert Word2Vec.load(tmp_path / "m").loss_history_ == [None]
