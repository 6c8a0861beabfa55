"""Synthetic corpora with planted structure, for the quickstart, tests and demos."""

from __future__ import annotations

import numpy as np


def topic_corpus(
    n_topics: int = 8,
    words_per_topic: int = 25,
    n_sentences: int = 4000,
    sentence_length: int = 12,
    *,
    noise: float = 0.0,
    seed: int = 0,
) -> tuple[list[list[str]], dict[str, int]]:
    """Sentences whose words are drawn from one topic each, Zipf-weighted within the topic.

    Word ``t{topic}_w{j}`` belongs to ``topic``; with ``noise > 0`` each token is replaced by
    a uniformly random word of any topic with that probability. A good embedding puts words
    of one topic next to each other.

    Returns
    -------
    (sentences, topic_of)
        ``topic_of`` maps every word to its topic.
    """
    if n_topics < 1 or words_per_topic < 1 or n_sentences < 1 or sentence_length < 1:
        raise ValueError("n_topics, words_per_topic, n_sentences and sentence_length must be >= 1")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise={noise} is invalid; use 0 <= noise < 1")
    rng = np.random.default_rng(seed)
    words = np.array([f"t{t}_w{j}" for t in range(n_topics) for j in range(words_per_topic)])
    zipf = 1.0 / np.arange(1, words_per_topic + 1)
    zipf /= zipf.sum()
    topics = rng.integers(0, n_topics, size=n_sentences)
    local = rng.choice(words_per_topic, size=(n_sentences, sentence_length), p=zipf)
    ids = topics[:, None] * words_per_topic + local
    if noise > 0:
        swap = rng.random(ids.shape) < noise
        ids[swap] = rng.integers(0, words.size, size=int(swap.sum()))
    sentences = [words[row].tolist() for row in ids]
    topic_of = {str(w): i // words_per_topic for i, w in enumerate(words)}
    return sentences, topic_of
