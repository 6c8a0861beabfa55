"""Fixtures for the index tests: random and trained embeddings, small enough to stay fast."""

from __future__ import annotations

import numpy as np
import pytest

from embedrec import Embeddings, Item2Vec, Item2VecConfig, Word2Vec, Word2VecConfig
from embedrec.data.synthetic import topic_corpus

ANN_KINDS = ["hnsw", "ivf-flat", "ivf-pq"]
ALL_KINDS = ["exact", *ANN_KINDS]

#: small-index parameters: real ANN behaviour (IVF probes a fraction of its cells) in little time
PARAMS: dict[str, dict[str, object]] = {
    "exact": {},
    "hnsw": {"M": 16, "ef_construction": 100, "ef_search": 64},
    "ivf-flat": {"nlist": 24, "nprobe": 3},
    "ivf-pq": {"nlist": 24, "nprobe": 3, "pq_m": "auto", "pq_nbits": 6, "refine_factor": 8},
}


def clustered(n: int, dim: int, n_clusters: int = 20, seed: int = 0) -> np.ndarray:
    """Gaussian-mixture vectors (n, dim) float32: points of a cluster share a centre."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim))
    return (centres[rng.integers(0, n_clusters, n)] + 0.7 * rng.normal(size=(n, dim))).astype(
        np.float32
    )


@pytest.fixture(scope="session", autouse=True)
def _one_faiss_thread():
    """faiss on one thread: tiny builds are faster (OpenMP start-up and spinning dominate them,
    all the more on a busy machine) and results do not depend on the thread count."""
    try:
        import faiss
    except ImportError:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def random_emb() -> Embeddings:
    """3,000 int keys (10, 11, ...), dim 16, cosine."""
    return Embeddings(np.arange(10, 3010), clustered(3000, 16))


@pytest.fixture(scope="session")
def trained_w2v() -> Embeddings:
    """Word2Vec on a planted topic corpus: 1,600 str keys (t{topic}_w{j}), dim 24, cosine."""
    sentences, _ = topic_corpus(n_topics=16, words_per_topic=100, n_sentences=6000, seed=0)
    cfg = Word2VecConfig(dim=24, epochs=3, min_count=1, sample=0.0, workers=1, seed=1)
    return Word2Vec(cfg).fit(sentences, progress=False).embeddings_


@pytest.fixture(scope="session")
def trained_i2v() -> Embeddings:
    """Item2Vec on a planted log: int items 1000 * cluster + j, dim 16."""
    rng = np.random.default_rng(0)
    users = []
    for _ in range(3000):
        c = int(rng.integers(10))
        users.append([1000 * c + int(j) for j in rng.choice(120, size=10, replace=False)])
    cfg = Item2VecConfig(dim=16, epochs=5, workers=1, seed=1)
    return Item2Vec(cfg).fit(users, progress=False).embeddings_
