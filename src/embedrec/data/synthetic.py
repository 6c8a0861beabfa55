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


def session_log(
    n_sessions: int = 20000,
    n_items: int = 2000,
    *,
    n_successors: int = 5,
    repeat_prob: float = 0.3,
    jump_prob: float = 0.15,
    mean_length: float = 4.0,
    seed: int = 0,
) -> tuple[list[int], list[int], list[float]]:
    """Click sessions with planted structure: ``(session ids, item ids, times)`` columns.

    Every item has ``n_successors`` fixed successors (drawn Zipf-weighted, so some items are
    popular). A session starts at a Zipf-drawn item; each next click is, with probability
    ``repeat_prob``, a re-click of one of the session's items (the latest ones more often),
    with ``jump_prob`` a Zipf-drawn item, else a successor of the current item. Session
    lengths are ``2 + Poisson(mean_length - 2)``; sessions are an hour apart, clicks 30 s.
    A good session model learns the successors and the re-clicks.
    """
    if n_sessions < 1 or n_items < 2 or n_successors < 1:
        raise ValueError("n_sessions >= 1, n_items >= 2 and n_successors >= 1 are required")
    if not (0 <= repeat_prob < 1 and 0 <= jump_prob < 1 and repeat_prob + jump_prob < 1):
        raise ValueError("repeat_prob and jump_prob must be in [0, 1) with a sum below 1")
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, n_items + 1) ** 0.8
    zipf /= zipf.sum()
    succ = rng.choice(n_items, size=(n_items, n_successors), p=zipf)
    succ_p = 1.0 / np.arange(1, n_successors + 1)
    succ_p /= succ_p.sum()
    users: list[int] = []
    items: list[int] = []
    times: list[float] = []
    for s in range(n_sessions):
        length = 2 + int(rng.poisson(max(mean_length - 2.0, 0.0)))
        cur = int(rng.choice(n_items, p=zipf))
        seq = [cur]
        for _ in range(length - 1):
            u = rng.random()
            if u < repeat_prob:
                back = min(int(rng.geometric(0.6)) - 1, len(seq) - 1)
                cur = seq[-1 - back]
            elif u < repeat_prob + jump_prob:
                cur = int(rng.choice(n_items, p=zipf))
            else:
                cur = int(succ[cur, rng.choice(n_successors, p=succ_p)])
            seq.append(cur)
        for j, it in enumerate(seq):
            users.append(s)
            items.append(it)
            times.append(s * 3600.0 + j * 30.0)
    return users, items, times
