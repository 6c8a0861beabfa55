"""Tests of embedrec.vectors: queries, analogies, evaluation, word2vec IO and artifacts."""

from __future__ import annotations

import gzip
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import embedrec.vectors as vectors_mod
from embedrec.artifacts import resolve_artifact
from embedrec.vectors import Embeddings, Neighbors, read_keys_vectors, write_keys_vectors

RTOL = 1e-6

# --------------------------------------------------------------------------------------- fixtures
# Five 2-d vectors with different norms:
#   a=(1,0)  b=(3,4) (|b|=5, unit (.6,.8))  c=(0,2)  d=(-1,0)  e=(10,1) (|e|=sqrt(101))
SMALL_KEYS = ["a", "b", "c", "d", "e"]
SMALL_VECS = np.array([[1, 0], [3, 4], [0, 2], [-1, 0], [10, 1]], dtype=np.float64)


@pytest.fixture
def small() -> Embeddings:
    return Embeddings(SMALL_KEYS, SMALL_VECS)


def _angles(degrees: dict[str, float], scale: dict[str, float] | None = None) -> Embeddings:
    """2-d vectors at the given angles (norms from ``scale``, default 1)."""
    scale = scale or {}
    keys = list(degrees)
    vecs = [
        [
            scale.get(k, 1.0) * math.cos(math.radians(t)),
            scale.get(k, 1.0) * math.sin(math.radians(t)),
        ]
        for k, t in degrees.items()
    ]
    return Embeddings(keys, vecs)


# a at 0°, b at 30°, c at 90°, x at 60°, y at 150°; cos of two unit vectors = cos(angle between).
# Norms differ on purpose: analogies must work on unit vectors.
ANALOGY = {"a": 0.0, "b": 30.0, "c": 90.0, "x": 60.0, "y": 150.0}
ANALOGY_SCALE = {"a": 2.0, "b": 0.5, "c": 1.0, "x": 3.0, "y": 1.5}


@pytest.fixture
def analogy_emb() -> Embeddings:
    return _angles(ANALOGY, ANALOGY_SCALE)


# --------------------------------------------------------------------------------------- basics
def test_construction_converts_to_float32_c_contiguous() -> None:
    fortran = np.asfortranarray(SMALL_VECS)
    emb = Embeddings(np.array(SMALL_KEYS), fortran)
    assert emb.vectors.dtype == np.float32
    assert emb.vectors.flags.c_contiguous
    assert emb.keys == SMALL_KEYS
    assert all(type(k) is str for k in emb.keys)
    assert len(emb) == 5 and emb.dim == 2 and emb.metric == "cosine"
    assert "b" in emb and "z" not in emb and ["a"] not in emb
    assert emb.key_to_index == {k: i for i, k in enumerate(SMALL_KEYS)}
    assert_array_equal(emb["b"], [3, 4])
    assert_array_equal(emb.get_vectors(["e", "a"]), [[10, 1], [1, 0]])
    assert emb.index_of("c") == 2
    assert_array_equal(emb.index_of(["c", "zz", "a"], missing="skip"), [2, 0])
    with pytest.raises(ValueError, match="read-only"):
        emb.vectors[0, 0] = 5.0


def test_duplicate_keys_are_named() -> None:
    with pytest.raises(ValueError, match=r"duplicated: \['b', 'a'\]"):
        Embeddings(["a", "b", "b", "a", "c"], np.zeros((5, 2)))


def test_shape_mismatch_names_both_shapes() -> None:
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*shape \(2,\)"):
        Embeddings(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"shape \(6,\)"):
        Embeddings(["a", "b"], np.zeros(6))


def test_bad_keys_and_metric() -> None:
    with pytest.raises(TypeError, match="mix str"):
        Embeddings(["a", 1], np.zeros((2, 2)))
    with pytest.raises(TypeError, match="must be str or int"):
        Embeddings([1.5, 2.5], np.zeros((2, 2)))
    with pytest.raises(ValueError, match="metric='euclid'"):
        Embeddings(["a"], np.zeros((1, 2)), metric="euclid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        Embeddings(["a", "b"], [[0.0, np.nan], [1.0, 1.0]])


def test_unknown_keys_listed(small: Embeddings) -> None:
    with pytest.raises(KeyError, match=r"2 unknown key\(s\): \['zz', 'yy'\]"):
        small.most_similar(["a", "zz", "yy"])
    with pytest.raises(KeyError, match="'zz'"):
        small["zz"]
    with pytest.raises(KeyError, match="'qq'"):
        small.get_vectors(["a", "qq"])
    with pytest.raises(KeyError, match="'zz'"):
        small.most_similar("a", negative="zz")


def test_zero_vector_has_no_nan() -> None:
    emb = Embeddings(["z", "a", "b"], [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert np.isfinite(emb.unit_vectors).all()
    assert_array_equal(emb.unit_vectors[0], [0.0, 0.0])
    res = emb.most_similar("z", k=2)
    assert_array_equal(res.scores, [0.0, 0.0])
    assert emb.similarity("z", "a") == 0.0


# ------------------------------------------------------------------------------- most_similar
def test_most_similar_cosine_known_answer(small: Embeddings) -> None:
    # query b, unit (.6,.8): cos(b,c)=.8, cos(b,e)=(30+4)/(5*sqrt(101))=.6766, cos(b,a)=.6,
    # cos(b,d)=-.6
    res = small.most_similar("b", k=4)
    assert isinstance(res, Neighbors)
    assert res.keys.tolist() == ["c", "e", "a", "d"]
    assert_allclose(res.scores, [0.8, 34 / (5 * math.sqrt(101)), 0.6, -0.6], rtol=RTOL)
    assert res.scores.dtype == np.float32


def test_most_similar_dot_known_answer() -> None:
    # query b=(3,4): b.e=30+4=34, b.c=8, b.a=3, b.d=-3; so e beats c, unlike with cosine
    emb = Embeddings(SMALL_KEYS, SMALL_VECS, metric="dot")
    res = emb.most_similar("b", k=4)
    assert res.keys.tolist() == ["e", "c", "a", "d"]
    assert_allclose(res.scores, [34, 8, 3, -3], rtol=RTOL)
    assert emb.similarity("b", "e") == pytest.approx(34.0)


def test_combined_query_and_negative(small: Embeddings) -> None:
    # (a, c): unit a + unit c = (1,1) -> cos to b = (.6+.8)/sqrt2 = .98995,
    # to e = (10+1)/sqrt(101)/sqrt2 = .77395, to d = -1/sqrt2
    res = small.most_similar([("a", "c")], k=10)
    assert res.keys.tolist() == [["b", "e", "d"]]
    assert_allclose(
        res.scores[0], [1.4 / math.sqrt(2), 11 / math.sqrt(202), -(0.5**0.5)], rtol=RTOL
    )
    # c - d: (0,1) - (-1,0) = (1,1), same direction; a is a candidate now: cos = 1/sqrt2
    res = small.most_similar("c", negative="d", k=3)
    assert res.keys.tolist() == ["b", "e", "a"]
    assert_allclose(res.scores, [1.4 / math.sqrt(2), 11 / math.sqrt(202), 0.5**0.5], rtol=RTOL)
    # a tuple at top level is one combined query -> 1-D answer
    single = small.most_similar(("a", "c"), k=3)
    assert single.keys.tolist() == ["b", "e", "d"]
    # negatives aligned with a batch
    batch = small.most_similar(["c", "a"], negative=["d", None], k=2)
    assert batch.keys.tolist() == [["b", "e"], ["e", "b"]]
    with pytest.raises(ValueError, match="same length"):
        small.most_similar(["c", "a"], negative=["d"])


def test_batch_equals_single(small: Embeddings) -> None:
    batch = small.most_similar(SMALL_KEYS, k=3)
    assert batch.keys.shape == (5, 3) and batch.scores.shape == (5, 3)
    for i, key in enumerate(SMALL_KEYS):
        one = small.most_similar(key, k=3)
        assert_array_equal(batch.keys[i], one.keys)
        assert_allclose(batch.scores[i], one.scores, rtol=RTOL)


def test_k_larger_than_candidates(small: Embeddings) -> None:
    res = small.most_similar("a", k=100)
    assert res.keys.shape == (4,)  # 5 keys minus the query
    res = small.most_similar("a", k=100, restrict_vocab=3)
    assert res.keys.tolist() == ["b", "c"]
    # rows share one width: the combined query leaves 5 - 2 = 3 candidates
    res = small.most_similar([("a", "b"), "c"], k=100)
    assert res.keys.shape == (2, 3)


def test_exclude_query(small: Embeddings) -> None:
    res = small.most_similar("b", k=1, exclude_query=False)
    assert res.keys.tolist() == ["b"]
    assert_allclose(res.scores, [1.0], rtol=RTOL)
    res = small.most_similar("b", k=10)
    assert "b" not in res.keys.tolist()


def test_restrict_vocab_keeps_query_outside(small: Embeddings) -> None:
    # e is outside the first 2 keys but may still be a query
    res = small.most_similar("e", k=5, restrict_vocab=2)
    assert res.keys.tolist() == ["a", "b"]


def test_missing_skip_drops_queries(small: Embeddings) -> None:
    res = small.most_similar(["a", "zz", ("c", "qq"), "c"], k=2, missing="skip")
    ref = small.most_similar(["a", "c"], k=2)
    assert_array_equal(res.keys, ref.keys)
    assert_array_equal(res.scores, ref.scores)
    empty = small.most_similar("zz", missing="skip")
    assert empty.keys.shape == (0,) and empty.scores.shape == (0,)


def test_int_keys_give_int_arrays() -> None:
    emb = Embeddings([10, 20, 30], [[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]])
    res = emb.most_similar(np.int64(10), k=2)
    assert res.keys.dtype == np.int64
    assert res.keys.tolist() == [20, 30]
    assert emb.most_similar([10, 30], k=1).keys.tolist() == [[20], [20]]
    assert emb.index_of(np.int64(30)) == 2


matrices = st.integers(2, 12).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.integers(1, 4),
        st.integers(0, 2**32 - 1),
        st.sampled_from(["cosine", "dot"]),
        st.integers(1, n + 2),
    )
)


@settings(max_examples=40, deadline=None)
@given(matrices)
def test_property_batch_equals_single_and_brute_force(args: tuple[int, int, int, str, int]) -> None:
    n, dim, seed, metric, k = args
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((n, dim)).astype(np.float32)
    keys = [f"k{i}" for i in range(n)]
    emb = Embeddings(keys, vecs, metric=metric)  # type: ignore[arg-type]
    batch = emb.most_similar(keys, k=k)
    base = emb.unit_vectors if metric == "cosine" else emb.vectors
    for i, key in enumerate(keys):
        one = emb.most_similar(key, k=k)
        assert_array_equal(batch.keys[i], one.keys)
        # BLAS may round a matrix-matrix product differently from a matrix-vector one
        assert_allclose(batch.scores[i], one.scores, rtol=1e-6, atol=1e-6)
        assert key not in one.keys.tolist()
        brute = np.delete(base @ base[i], i)
        expected = np.sort(brute)[::-1][: min(k, n - 1)]
        assert_allclose(one.scores, expected, rtol=1e-5, atol=1e-6)


def test_similarity_pairs(small: Embeddings) -> None:
    assert small.similarity("a", "b") == pytest.approx(0.6)
    sims = small.similarity(["a", "b", "a"], ["b", "c", "d"])
    assert sims.shape == (3,)
    assert_allclose(sims, [0.6, 0.8, -1.0], rtol=RTOL)
    with pytest.raises(ValueError, match="same length"):
        small.similarity(["a"], ["b", "c"])


# --------------------------------------------------------------------------------------- analogies
def test_3cosadd_and_3cosmul_disagree(analogy_emb: Embeddings) -> None:
    # a:b :: c:?  with a=0°, b=30°, c=90°; candidates x=60°, y=150°.
    # 3CosAdd  cos(t,b) - cos(t,a) + cos(t,c):
    #   x: cos30 - cos60 + cos30 = .866 - .5 + .866 = 1.232
    #   y: cos120 - cos150 + cos60 = -.5 + .866 + .5 = .866        -> x
    #   score = 1.232 / |b - a + c| = 1.232 / |(cos30-1, sin30+1)| = 1.232 / 1.50597 = .81811
    # 3CosMul  cos'(t,b) cos'(t,c) / (cos'(t,a) + 1e-3),  cos' = (cos + 1) / 2:
    #   x: .933 * .933 / (.75 + .001) = 1.1591
    #   y: .25 * .75 / ((1 - .866)/2 + .001) = .1875 / .067987 = 2.7579   -> y
    add = analogy_emb.analogy("a", "b", "c", k=2)
    assert add.keys.tolist() == ["x", "y"]
    r3 = math.sqrt(3)
    q_norm = math.hypot(r3 / 2 - 1, 1.5)
    assert_allclose(add.scores[0], (r3 - 0.5) / q_norm, rtol=RTOL)
    mul = analogy_emb.analogy("a", "b", "c", k=2, method="3cosmul")
    assert mul.keys.tolist() == ["y", "x"]
    cos_y = {"b": -0.5, "c": 0.5, "a": -r3 / 2}
    cos_x = {"b": r3 / 2, "c": r3 / 2, "a": 0.5}

    def sh(v: float) -> float:
        return (v + 1) / 2

    expected = [
        sh(cos_y["b"]) * sh(cos_y["c"]) / (sh(cos_y["a"]) + 1e-3),
        sh(cos_x["b"]) * sh(cos_x["c"]) / (sh(cos_x["a"]) + 1e-3),
    ]
    assert_allclose(mul.scores, expected, rtol=1e-5)


def test_analogy_batch_and_exclusion(analogy_emb: Embeddings) -> None:
    # c:b :: a:?  cos(t,b) - cos(t,c) + cos(t,a):  x: .866-.866+.5 = .5;  y: -.5-.5-.866 -> x
    batch = analogy_emb.analogy(["a", "c"], ["b", "b"], ["c", "a"], k=2)
    assert batch.keys.tolist() == [["x", "y"], ["x", "y"]]
    one = analogy_emb.analogy("c", "b", "a", k=2)
    assert_allclose(batch.scores[1], one.scores, rtol=RTOL)
    # the three question keys are never answers, even with k large
    assert analogy_emb.analogy("a", "b", "c", k=10).keys.shape == (2,)
    with pytest.raises(ValueError, match="equal lengths"):
        analogy_emb.analogy(["a"], ["b", "b"], ["c"])
    res = analogy_emb.analogy(["a", "zz"], ["b", "b"], ["c", "c"], missing="skip")
    assert res.keys.tolist() == [["x"]]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


QUESTIONS = """\
: sec-one
a b c x
a b c y
A B C X
a b c zzz
a b c
: sec-two
c b a x
c b a y
"""


def test_evaluate_analogies_known_counts(analogy_emb: Embeddings, tmp_path: Path) -> None:
    # 3CosAdd answers (see test_3cosadd_and_3cosmul_disagree): a b c -> x; c b a -> x.
    # sec-one: "a b c x" right, "a b c y" wrong, "A B C X" right (uppercased), zzz OOV,
    # 3-word line invalid (not a question); sec-two: right, wrong.  5 evaluated, 1 OOV of 6.
    path = _write(tmp_path / "q.txt", QUESTIONS)
    res = analogy_emb.evaluate_analogies(path)
    assert res["sections"] == [
        {"section": "sec-one", "correct": 2, "incorrect": 1, "accuracy": 2 / 3},
        {"section": "sec-two", "correct": 1, "incorrect": 1, "accuracy": 0.5},
    ]
    assert res["total"] == {"correct": 3, "incorrect": 2, "accuracy": 0.6}
    assert res["oov_questions"] == 1
    assert res["oov_ratio"] == pytest.approx(1 / 6)
    # case-sensitive: "A B C X" is now OOV too
    res = analogy_emb.evaluate_analogies(path, case_insensitive=False)
    assert res["total"] == {"correct": 2, "incorrect": 2, "accuracy": 0.5}
    assert res["oov_questions"] == 2
    # restrict_vocab=4 drops y (the 5th key): both "... y" questions become OOV
    res = analogy_emb.evaluate_analogies(path, restrict_vocab=4)
    assert res["total"] == {"correct": 3, "incorrect": 0, "accuracy": 1.0}
    assert res["oov_questions"] == 3
    # 3CosMul: a b c -> y (sec-one: 1 right, 2 wrong); c b a -> x since
    # x: .933*.75/(.933+.001) = .749 > y: .25*.067/(.75+.001) = .022 (sec-two: 1 right, 1 wrong)
    res = analogy_emb.evaluate_analogies(path, method="3cosmul")
    assert [(s["correct"], s["incorrect"]) for s in res["sections"]] == [(1, 2), (1, 1)]


def test_evaluate_analogies_bad_files(analogy_emb: Embeddings, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="line 1: question before"):
        analogy_emb.evaluate_analogies(_write(tmp_path / "a.txt", "a b c x\n"))
    with pytest.raises(ValueError, match="no analogy questions"):
        analogy_emb.evaluate_analogies(_write(tmp_path / "b.txt", ": empty\n"))


# --------------------------------------------------------------------------------------- word pairs
def test_evaluate_pairs_known_spearman(analogy_emb: Embeddings, tmp_path: Path) -> None:
    # model cosines: (a,b)=cos30=.866, (a,x)=cos60=.5, (a,c)=cos90=0, (a,y)=cos150=-.866
    # model ranks 4,3,2,1; gold 9,2,5,1 -> ranks 4,2,3,1; d = 0,1,-1,0; sum d^2 = 2
    # Spearman = 1 - 6*2 / (4*(16-1)) = 1 - 12/60 = 0.8.  (a, zzz) is OOV: 1 of 5 pairs.
    text = "# comment\nword1\tword2\tscore\na\tb\t9\na\tX\t2\na\tc\t5\nA\ty\t1\na\tzzz\t3\n"
    res = analogy_emb.evaluate_pairs(_write(tmp_path / "p.tsv", text))
    assert res["spearman"] == pytest.approx(0.8)
    model = [math.sqrt(3) / 2, 0.5, 0.0, -math.sqrt(3) / 2]
    assert res["pearson"] == pytest.approx(np.corrcoef([9, 2, 5, 1], model)[0, 1], rel=1e-6)
    assert res["pairs"] == 4 and res["oov_pairs"] == 1
    assert res["oov_ratio"] == pytest.approx(0.2)
    with pytest.raises(ValueError, match="no similarity pair"):
        analogy_emb.evaluate_pairs(_write(tmp_path / "q.tsv", "zz\tqq\t1\n"))


def _pair_words(path: Path, delimiter: str) -> list[str]:
    words: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            continue
        words += [w.strip() for w in line.split(delimiter)[:2]]
    return words


@pytest.mark.parametrize(
    ("rel", "delimiter", "n_pairs"),
    [
        ("wordsim353.tsv", "\t", 353),
        ("simlex999.txt", "\t", 999),
        ("SimLex-999/SimLex-999.txt", "\t", 999),
        ("wordsim353/combined.tab", "\t", 353),
        ("wordsim353/combined.csv", ",", 353),
        ("wordsim353/set1.tab", "\t", 153),
        ("wordsim353/set2.csv", ",", 200),
    ],
)
def test_evaluate_pairs_loads_every_layout(
    shared_data: Path, rel: str, delimiter: str, n_pairs: int
) -> None:
    path = shared_data.require("word-eval", *rel.split("/"))  # type: ignore[attr-defined]
    words = list(dict.fromkeys(_pair_words(path, delimiter)))
    rng = np.random.default_rng(3)
    emb = Embeddings(words, rng.standard_normal((len(words), 16)))
    res = emb.evaluate_pairs(path, delimiter=delimiter)
    assert res["pairs"] == n_pairs and res["oov_pairs"] == 0


def test_official_simlex_equals_gensim_reformatting(shared_data: Path) -> None:
    official = shared_data.require("word-eval", "SimLex-999", "SimLex-999.txt")  # type: ignore[attr-defined]
    gensim_copy = shared_data.require("word-eval", "simlex999.txt")  # type: ignore[attr-defined]
    words = list(dict.fromkeys(_pair_words(gensim_copy, "\t")))
    emb = Embeddings(words, np.random.default_rng(5).standard_normal((len(words), 16)))
    assert emb.evaluate_pairs(official) == emb.evaluate_pairs(gensim_copy)


# --------------------------------------------------------------------------------------- vs gensim
def _reference_vocab(questions: Path, pairs: Path) -> tuple[list[str], np.ndarray]:
    """Vocabulary of the analogy and pair files plus case variants, with planted analogies."""
    rng = np.random.default_rng(2024)
    dim = 32
    vec: dict[str, np.ndarray] = {}
    for line in questions.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if line.startswith(":") or len(words) != 4:
            continue
        for w in words[:3]:
            if w not in vec:
                vec[w] = rng.standard_normal(dim)
        d = words[3]
        if d not in vec:
            # plant about half the first answers so accuracy is far from zero
            if rng.random() < 0.5:
                a, b, c = (vec[w] / np.linalg.norm(vec[w]) for w in words[:3])
                vec[d] = (b - a + c) * 3 + 0.3 * rng.standard_normal(dim)
            else:
                vec[d] = rng.standard_normal(dim)
    for w in _pair_words(pairs, "\t"):
        vec.setdefault(w, rng.standard_normal(dim))
    keys = list(vec)
    rng.shuffle(keys)
    # lowercase variants: half inserted before their original (then they are the first
    # occurrence that case-insensitive lookups map to), half after (then gensim skips them as
    # answers because they equal a question word after uppercasing)
    variants = [(w, w.lower()) for w in keys[::5] if w.lower() != w and w.lower() not in vec]
    for i, (word, lower) in enumerate(variants):
        vec[lower] = vec[word] + 0.1 * rng.standard_normal(dim)
        pos = keys.index(word)
        keys.insert(pos if i % 2 == 0 else pos + 1, lower)
    return keys, np.stack([vec[k] for k in keys]).astype(np.float32)


@pytest.mark.reference
def test_analogies_and_pairs_match_gensim(shared_data: Path) -> None:
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    questions = shared_data.require("word-eval", "questions-words.txt")  # type: ignore[attr-defined]
    pairs = shared_data.require("word-eval", "wordsim353.tsv")  # type: ignore[attr-defined]
    keys, vecs = _reference_vocab(questions, pairs)
    emb = Embeddings(keys, vecs)
    kv = gensim_kv.KeyedVectors(vecs.shape[1])
    kv.add_vectors(keys, vecs)
    restrict = len(keys) - 150  # some questions fall outside: OOV counting is compared too

    ours = emb.evaluate_analogies(questions, restrict_vocab=restrict)
    _, theirs = kv.evaluate_word_analogies(str(questions), restrict_vocab=restrict)
    assert [s["section"] for s in ours["sections"]] == [s["section"] for s in theirs[:-1]]
    got = [(s["correct"], s["incorrect"]) for s in ours["sections"]]
    want = [(len(s["correct"]), len(s["incorrect"])) for s in theirs[:-1]]
    assert got == want
    assert ours["total"]["correct"] == len(theirs[-1]["correct"]) > 1000
    assert ours["oov_questions"] > 0
    n_eval = ours["total"]["correct"] + ours["total"]["incorrect"]
    assert ours["oov_questions"] + n_eval == 19544

    ours_p = emb.evaluate_pairs(pairs, restrict_vocab=restrict)
    pearson, spearman, oov_pct = kv.evaluate_word_pairs(str(pairs), restrict_vocab=restrict)
    assert ours_p["pearson"] == pytest.approx(pearson[0], abs=1e-6)
    assert ours_p["spearman"] == pytest.approx(spearman[0], abs=1e-6)
    assert ours_p["pearson_pvalue"] == pytest.approx(pearson[1], rel=1e-4, abs=1e-9)
    assert ours_p["spearman_pvalue"] == pytest.approx(spearman[1], rel=1e-4, abs=1e-9)
    assert 100 * ours_p["oov_ratio"] == pytest.approx(oov_pct)


# -------------------------------------------------------------------------------- word2vec IO
def _random_emb(keys: list[str], dim: int = 7, seed: int = 0) -> Embeddings:
    rng = np.random.default_rng(seed)
    vecs = rng.standard_normal((len(keys), dim)).astype(np.float32)
    vecs[0] = [1e-30, -0.0, 3.4e38, -1e-7, 0.1, 123456.7, 1.0][:dim]  # awkward floats
    return Embeddings(keys, vecs)


UNICODE_KEYS = ["the", "café", "日本語", "naïve", "😀", "Ωmega", "a-b_c"]


@pytest.mark.reference
@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("suffix", [".w2v", ".w2v.gz"])
def test_word2vec_roundtrip_with_gensim(tmp_path: Path, binary: bool, suffix: str) -> None:
    gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
    emb = _random_emb(UNICODE_KEYS)
    ours = tmp_path / f"ours{suffix}"
    emb.save_word2vec_format(ours, binary=binary)
    kv = gensim_kv.KeyedVectors.load_word2vec_format(str(ours), binary=binary)
    assert list(kv.index_to_key) == UNICODE_KEYS
    if binary:
        assert_array_equal(kv.vectors, emb.vectors)
    else:
        assert_allclose(kv.vectors, emb.vectors, rtol=1e-6, atol=0)
    # and back: gensim writes, we read (format auto-detected and explicit)
    theirs = tmp_path / f"theirs{suffix}"
    kv.save_word2vec_format(str(theirs), binary=binary)
    for flag in (None, binary):
        back = Embeddings.load_word2vec_format(theirs, binary=flag)
        assert back.keys == UNICODE_KEYS
        assert_array_equal(back.vectors, kv.vectors)
    again = Embeddings.load_word2vec_format(ours)
    assert again.keys == UNICODE_KEYS
    assert_array_equal(again.vectors, emb.vectors)  # shortest float32 repr is exact


def test_word2vec_text_layout(tmp_path: Path) -> None:
    path = tmp_path / "v.txt"
    Embeddings(["a", "b"], [[0.5, -1.0], [0.1, 2.5]]).save_word2vec_format(path)
    assert path.read_bytes() == b"2 2\na 0.5 -1.0\nb 0.1 2.5\n"
    path = tmp_path / "v.bin"
    Embeddings(["é"], [[1.0, -2.0]]).save_word2vec_format(path, binary=True)
    assert path.read_bytes() == (
        b"1 2\n" + "é".encode() + b" " + np.array([1, -2], "<f4").tobytes() + b"\n"
    )


def test_word2vec_limit_and_int_keys(tmp_path: Path) -> None:
    emb = Embeddings([7, 8, 9], np.arange(6, dtype=np.float32).reshape(3, 2), metric="dot")
    for binary in (False, True):
        path = tmp_path / f"v{binary}"
        emb.save_word2vec_format(path, binary=binary)
        back = Embeddings.load_word2vec_format(path, limit=2, metric="dot")
        assert back.keys == ["7", "8"]  # the format has no key types: ints come back as str
        assert_array_equal(back.vectors, emb.vectors[:2])
        assert back.metric == "dot"


def test_word2vec_refuses_whitespace_keys(tmp_path: Path) -> None:
    emb = Embeddings(["ok", "new york"], np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"'new york'.*replace whitespace"):
        emb.save_word2vec_format(tmp_path / "v.txt")
    assert not (tmp_path / "v.txt").exists()
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def _binary_rows(*rows: tuple[bytes, list[float]]) -> bytes:
    return b"".join(k + b" " + np.array(v, "<f4").tobytes() + b"\n" for k, v in rows)


CORRUPT = {
    "bad header": (b"hello world\na 1 2\n", r"line 1: expected a header"),
    "no header newline": (b"", r"line 1: no header"),
    "too few text rows": (b"3 2\na 1 2\nb 3 4\n", r"ends after 2 .*line 4.*truncated"),
    "too many text rows": (b"1 2\na 1 2\nb 3 4\n", r"more data after row 1"),
    "short text row": (
        b"2 2\na 1 2\nb 3\n",
        r"line 3 \(key 'b'\): expected a key and 2 values, got 1",
    ),
    "non-numeric": (b"2 2\na 1 2\nb 3 x4\n", r"line 3 \(key 'b'\): 'x4' is not a number"),
    "non-finite": (b"1 2\na 1 nan\n", r"line 2 \(key 'a'\): non-finite"),
    "bad utf-8 text": (b"1 2\n\xff\xfe 1 2\n", r"line 2: bytes are not valid UTF-8"),
    "duplicate keys": (b"2 2\na 1 2\na 3 4\n", r"duplicated: \['a'\]"),
    "truncated binary": (
        b"2 2\n" + _binary_rows((b"a", [1, 2]), (b"b", [3, 4]))[:-5],
        r"row 2 .*ends inside this row",
    ),
    "bad utf-8 binary": (
        b"1 2\n" + _binary_rows((b"\xff\xfe", [1, 2])),
        r"row 1 .*not valid UTF-8",
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_word2vec_corrupt_files(tmp_path: Path, case: str) -> None:
    data, pattern = CORRUPT[case]
    path = tmp_path / "corrupt.w2v"
    path.write_bytes(data)
    binary = True if "binary" in case else None
    with pytest.raises(ValueError, match=pattern) as info:
        Embeddings.load_word2vec_format(path, binary=binary)
    assert str(path) in str(info.value)


def test_word2vec_corrupt_gzip(tmp_path: Path) -> None:
    path = tmp_path / "v.txt.gz"
    path.write_bytes(gzip.compress(b"2 2\na 1 2\nb 3 4\n")[:-12])
    with pytest.raises(ValueError, match=r"corrupt gzip|truncated|ends") as info:
        Embeddings.load_word2vec_format(path)
    assert str(path) in str(info.value)


def test_binary_without_newlines_and_auto_detect(tmp_path: Path) -> None:
    # gensim writes binary rows without the trailing newline word2vec.c adds
    path = tmp_path / "g.bin"
    rows = [(b"x", [1.0, 10.0]), (b"y", [2.0, 20.0])]
    path.write_bytes(b"2 2\n" + b"".join(k + b" " + np.array(v, "<f4").tobytes() for k, v in rows))
    emb = Embeddings.load_word2vec_format(path)
    assert emb.keys == ["x", "y"]
    assert_array_equal(emb.vectors, [[1, 10], [2, 20]])


# --------------------------------------------------------------------------------------- artifacts
key_lists = st.one_of(
    st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=8, unique=True),
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=8, unique=True),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key_lists, st.integers(1, 5), st.sampled_from(["cosine", "dot"]), st.integers(0, 1000))
def test_property_save_load_roundtrip(
    keys: list[str] | list[int], dim: int, metric: str, seed: int
) -> None:
    vecs = np.random.default_rng(seed).standard_normal((len(keys), dim))
    emb = Embeddings(keys, vecs, metric=metric)  # type: ignore[arg-type]
    with tempfile.TemporaryDirectory() as tmp:
        emb.save(Path(tmp) / "emb")
        back = Embeddings.load(Path(tmp) / "emb")
    assert back.keys == emb.keys
    assert [type(k) for k in back.keys] == [type(k) for k in emb.keys]
    assert back.metric == emb.metric
    assert_array_equal(back.vectors, emb.vectors)
    before = emb.most_similar(list(emb.keys), k=3)
    after = back.most_similar(list(back.keys), k=3)
    assert_array_equal(before.keys, after.keys)
    assert_array_equal(before.scores, after.scores)


def test_artifact_layout(tmp_path: Path) -> None:
    Embeddings([3, 1], [[1.0, 2.0], [3.0, 4.0]], metric="dot").save(tmp_path / "e")
    # a generation store: CURRENT names the one generation, which holds the files
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [".lock", "CURRENT", "gen-000001"]
    assert (tmp_path / "e" / "CURRENT").read_text() == "gen-000001\n"
    gen = tmp_path / "e" / "gen-000001"
    assert sorted(p.name for p in gen.iterdir()) == [
        "keys.json",
        "manifest.json",
        "vectors.npy",
    ]
    manifest = json.loads((gen / "manifest.json").read_text())
    assert manifest["class"] == "Embeddings" and manifest["library"] == "embedrec"
    assert (manifest["metric"], manifest["dim"], manifest["n_keys"], manifest["key_type"]) == (
        "dot",
        2,
        2,
        "int",
    )
    assert json.loads((gen / "keys.json").read_text()) == [3, 1]
    arr = np.load(gen / "vectors.npy", allow_pickle=False)
    assert arr.dtype == np.float32 and arr.shape == (2, 2)
    assert manifest["files"]["vectors.npy"]["shape"] == [2, 2]
    assert manifest["files"]["vectors.npy"]["dtype"] == "<f4"
    assert manifest["files"]["keys.json"]["size"] == (gen / "keys.json").stat().st_size


def test_keys_vectors_helpers(tmp_path: Path) -> None:
    write_keys_vectors(tmp_path, ["a", "b"], np.eye(2))
    keys, vecs = read_keys_vectors(tmp_path)
    assert keys == ["a", "b"]
    assert vecs.dtype == np.float32
    assert_array_equal(vecs, np.eye(2))
    with pytest.raises(ValueError, match=r"shape \(3, 2\).*shape \(2,\)"):
        write_keys_vectors(tmp_path, ["a", "b"], np.zeros((3, 2)))


@pytest.mark.parametrize("table", [True, False], ids=["files-table", "no-files-table"])
@pytest.mark.parametrize(
    ("damage", "pattern"),
    [
        ("no_manifest", "no manifest.json"),
        ("other_class", "holds a 'Word2Vec'"),
        ("keys_count", "n_keys=2 but the data has 3|has 3 keys"),
        ("keys_json", "keys.json is corrupt"),
        ("vectors_npy", "not a valid numeric .npy"),
        ("no_vectors", "no vectors.npy"),
        ("key_type", "key_type='int'"),
    ],
)
def test_load_rejects_corrupt_or_foreign_dirs(
    tmp_path: Path, damage: str, pattern: str, table: bool
) -> None:
    """Damage the saved generation; without its manifest's files table (a directory saved
    before checksums) the content checks behind the table are reached too."""
    Embeddings(["a", "b"], np.eye(2)).save(tmp_path / "e")
    path = resolve_artifact(tmp_path / "e")[0]
    manifest_path = path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    if not table:
        del manifest["files"]
    elif damage == "keys_count":
        pattern = "keys.json is corrupt"  # the checksum table catches it first
    if damage == "no_manifest":
        manifest_path.unlink()
    elif damage == "other_class":
        manifest["class"] = "Word2Vec"
    elif damage == "keys_count":
        (path / "keys.json").write_text('["a", "b", "c"]')
    elif damage == "keys_json":
        (path / "keys.json").write_text('["a", ')
    elif damage == "vectors_npy":
        (path / "vectors.npy").write_bytes(b"garbage")
    elif damage == "no_vectors":
        (path / "vectors.npy").unlink()
    elif damage == "key_type":
        manifest["key_type"] = "int"
    if manifest_path.exists():
        manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=pattern):
        Embeddings.load(path)
    with pytest.raises(ValueError, match=pattern):
        Embeddings.load(tmp_path / "e")  # through CURRENT


def test_load_missing_dir_or_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Embeddings.load(tmp_path / "nope")
    (tmp_path / "f.txt").write_text("1 2\na 1 2\n")
    with pytest.raises(NotADirectoryError, match="load_word2vec_format"):
        Embeddings.load(tmp_path / "f.txt")


def test_interrupted_save_keeps_previous_artifact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = Embeddings(["a", "b", "c"], np.eye(3))
    path = tmp_path / "emb"
    good.save(path)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")  # after vectors.npy and keys.json were written

    monkeypatch.setattr(vectors_mod, "write_json", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        Embeddings(["x", "y"], np.ones((2, 4))).save(path)
    # first-time saves that fail leave nothing behind either
    with pytest.raises(RuntimeError, match="disk full"):
        Embeddings(["x"], np.ones((1, 4))).save(tmp_path / "fresh")
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["emb"]  # no temp dirs, no "fresh"
    back = Embeddings.load(path)
    assert back.keys == ["a", "b", "c"]
    assert_array_equal(back.vectors, np.eye(3))
