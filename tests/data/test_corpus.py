import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data import Corpus, build_corpus

sentence_lists = st.lists(
    st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f"]), min_size=0, max_size=12),
    min_size=1,
    max_size=40,
)


@settings(max_examples=50, deadline=None)
@given(sentence_lists, st.integers(min_value=1, max_value=4))
def test_encoding_round_trips_and_counts(sentences, min_count):
    flat = [t for s in sentences for t in s]
    counts = {t: flat.count(t) for t in set(flat)}
    if not any(c >= min_count for c in counts.values()):
        with pytest.raises(ValueError):
            build_corpus(sentences, min_count=min_count)
        return
    vocab, corpus = build_corpus(sentences, min_count=min_count)
    # keys by descending count, ties by first appearance
    first = {t: flat.index(t) for t in counts}
    kept = [t for t in counts if counts[t] >= min_count]
    assert vocab.keys == sorted(kept, key=lambda t: (-counts[t], first[t]))
    assert vocab.counts.tolist() == [counts[t] for t in vocab.keys]
    # decoding gives back every sentence minus the dropped words, empty ones removed
    expected = [[t for t in s if counts[t] >= min_count] for s in sentences]
    expected = [s for s in expected if s]
    decoded = [[vocab.keys[i] for i in corpus.sentence(k)] for k in range(corpus.n_sentences)]
    assert decoded == expected


def test_spilled_corpus_equals_in_memory(tmp_path):
    rng = np.random.default_rng(0)
    sentences = [[f"w{i}" for i in rng.integers(0, 30, rng.integers(1, 50))] for _ in range(300)]
    v1, c1 = build_corpus(sentences, min_count=2)
    v2, c2 = build_corpus(sentences, min_count=2, spill_tokens=500, spill_dir=tmp_path)
    assert v1.keys == v2.keys
    assert isinstance(c2.tokens, np.memmap)
    assert np.array_equal(c1.tokens, c2.tokens) and np.array_equal(c1.offsets, c2.offsets)
    assert not list(tmp_path.iterdir())  # the spill file is unlinked once mapped


def test_max_vocab_size_prunes_rare_words_while_scanning():
    # 'a' x 40 first, then 8 words seen once, then 'b' x 30: with max_vocab_size=5 the
    # singletons are pruned (count < 1 fails, then count < 2 removes them) and a, b survive
    sentences = [["a"] * 40, [f"r{i}" for i in range(8)], ["b"] * 30]
    vocab, _ = build_corpus(sentences, min_count=1, max_vocab_size=5)
    assert vocab.keys[:2] == ["a", "b"]
    assert len(vocab) <= 5


def test_shards_never_cut_sentences():
    lengths = [5, 100, 3, 3, 3, 50, 1]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    corpus = Corpus(np.zeros(offsets[-1], np.int32), offsets)
    bounds = corpus.shards(10)
    assert bounds[0] == 0 and bounds[-1] == len(lengths)
    assert np.all(np.diff(bounds) > 0)  # every shard holds whole sentences, none empty


def test_corpus_validates_offsets():
    with pytest.raises(ValueError, match="offsets must start at 0 and end at n_tokens=3"):
        Corpus(np.zeros(3, np.int32), np.array([0, 2]))
    with pytest.raises(ValueError, match="tokens must be a 1-D int32 array"):
        Corpus(np.zeros(3, np.int64), np.array([0, 3]))


def test_import_compiles_nothing():
    code = (
        "import embedrec, embedrec.kernels.train as t, embedrec.kernels.sgns as s;"
        "print(len(t.train_shard.signatures) + len(s.batch_update.signatures))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
