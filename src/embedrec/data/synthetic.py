"""Synthetic corpora with planted structure, for the quickstart, tests and demos."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .interactions import Interactions


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


#: genre names of :func:`genre_log`, in order of genre popularity
GENRES = (
    "jazz",
    "rock",
    "folk",
    "blues",
    "techno",
    "soul",
    "metal",
    "ambient",
    "reggae",
    "opera",
    "punk",
    "disco",
)
_ADJECTIVES = (
    "amber", "blue", "brave", "bright", "broken", "calm", "copper", "crimson", "dark",
    "distant", "dusty", "electric", "empty", "fading", "gentle", "golden", "hidden", "hollow",
    "honest", "iron", "lonely", "lucky", "midnight", "misty", "neon", "paper", "quiet",
    "restless", "silver", "slow", "velvet", "wild",
)  # fmt: skip
_NOUNS = (
    "anchor", "bridge", "canyon", "circus", "compass", "garden", "harbor", "highway",
    "island", "lantern", "meadow", "mirror", "motel", "orchard", "parade", "river", "rooftop",
    "sailor", "shadow", "signal", "station", "storm", "street", "summer", "tide", "tower",
    "train", "valley", "window", "winter", "wolf", "echo",
)  # fmt: skip


def genre_log(
    n_users: int = 1000,
    n_genres: int = 8,
    items_per_genre: int = 30,
    mean_events: float = 20.0,
    *,
    genre_prob: float = 0.9,
    follow_prob: float = 0.5,
    n_successors: int = 2,
    zipf_exponent: float = 1.0,
    seed: int = 0,
) -> tuple[Interactions, dict[str, str]]:
    """A time-ordered listening log with planted structure and readable keys.

    Items are named ``"<genre>/<adjective>-<noun>"`` (e.g. ``"jazz/velvet-harbor"``; names
    are drawn from built-in word lists by ``seed``, no real titles); within a genre the
    items are listed by popularity. Every user has 1-3 favourite genres (more popular genres
    more often) and a history of ``5 + Poisson(mean_events - 5)`` distinct items, events a
    few minutes to hours apart. Each next event is, with probability ``follow_prob``, one of
    the current item's ``n_successors`` fixed successors (uniform within its genre, so the
    order carries information popularity does not); otherwise, with probability
    ``genre_prob``, an item of one of the user's favourite genres, else an item of any genre
    (noise). Fresh items are drawn with Zipf weights ``rank ** -zipf_exponent`` (genre ranks
    weighted by ``rank ** -0.5`` across genres), so popularity is a real baseline. An item
    the user already has is never drawn again; a history whose draws keep hitting seen
    items ends early.

    Parameters
    ----------
    n_users : int
        Users (keys ``"user0001"``, ...).
    n_genres : int
        Genres, at most ``len(GENRES)`` (12).
    items_per_genre : int
        Items per genre, at least ``n_successors + 1`` and at most 1024.
    mean_events : float
        Mean history length, at least 5.
    genre_prob, follow_prob : float
        See above; each in ``[0, 1]``.
    n_successors : int
        Fixed successors of each item, at least 1.
    zipf_exponent : float
        Skew of item popularity within a genre (0: uniform).
    seed : int
        Seeds the names, the successors and the histories.

    Returns
    -------
    (log, genre_of)
        ``log``: an :class:`~embedrec.data.interactions.Interactions` with str user and item
        keys and integer unix-second times; ``genre_of`` maps every item key to its genre,
        listed genre by genre (most popular genre first), each genre's items from the most
        to the least popular by construction.

    Raises
    ------
    ValueError
        A size or probability out of range (the message names it and the allowed range).

    Examples
    --------
    >>> log, genre_of = genre_log(n_users=50, seed=3)
    >>> len({genre_of[k] for k in log.item_keys.tolist()})
    8
    """
    for name, value, low in (("n_users", n_users, 1), ("n_successors", n_successors, 1)):
        if value < low:
            raise ValueError(f"{name}={value} is invalid; use {name}>={low}")
    if not 1 <= n_genres <= len(GENRES):
        raise ValueError(f"n_genres={n_genres} is invalid; use 1 <= n_genres <= {len(GENRES)}")
    n_names = len(_ADJECTIVES) * len(_NOUNS)
    if not n_successors + 1 <= items_per_genre <= n_names:
        raise ValueError(
            f"items_per_genre={items_per_genre} is invalid; use n_successors + 1 <= "
            f"items_per_genre <= {n_names}"
        )
    if not mean_events >= 5:
        raise ValueError(f"mean_events={mean_events} is invalid; use mean_events>=5")
    for name, p in (("genre_prob", genre_prob), ("follow_prob", follow_prob)):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{name}={p} is invalid; use 0 <= {name} <= 1")
    if not zipf_exponent >= 0:
        raise ValueError(f"zipf_exponent={zipf_exponent} is invalid; use zipf_exponent>=0")
    rng = np.random.default_rng(seed)
    m = items_per_genre
    names: list[str] = []
    for g in range(n_genres):
        for code in rng.choice(n_names, size=m, replace=False).tolist():
            adjective, noun = divmod(code, len(_NOUNS))
            names.append(f"{GENRES[g]}/{_ADJECTIVES[adjective]}-{_NOUNS[noun]}")
    # item g * m + r is the rank-r item of genre g
    within = np.arange(1, m + 1, dtype=np.float64) ** -zipf_exponent
    within_cdf = np.cumsum(within / within.sum())
    genre_w = np.arange(1, n_genres + 1, dtype=np.float64) ** -0.5
    genre_p = genre_w / genre_w.sum()
    global_cdf = np.cumsum(np.outer(genre_p, within / within.sum()).ravel())
    # successors: uniform within the item's genre, never the item itself
    offsets = np.stack([rng.choice(m - 1, size=n_successors, replace=False) for _ in range(m)])
    succ = np.empty((n_genres * m, n_successors), dtype=np.int64)
    for g in range(n_genres):
        ranks = np.arange(m)[:, None]
        succ[g * m : (g + 1) * m] = g * m + (ranks + 1 + offsets) % m

    def draw(cdf: npt.NDArray[np.float64]) -> int:
        return min(int(np.searchsorted(cdf, rng.random(), side="right")), cdf.size - 1)

    users: list[int] = []
    items: list[int] = []
    times: list[int] = []
    start = 1_700_000_000  # 2023-11-14, an arbitrary fixed clock
    for u in range(n_users):
        n_fav = int(rng.integers(1, 4))
        favourites = rng.choice(n_genres, size=min(n_fav, n_genres), replace=False, p=genre_p)
        length = 5 + int(rng.poisson(mean_events - 5))
        seen: set[int] = set()
        cur = -1
        t = start + int(rng.integers(0, 30 * 86400))
        for _ in range(length):
            nxt = -1
            for _try in range(20):
                r = rng.random()
                if cur >= 0 and r < follow_prob:
                    cand = int(succ[cur, rng.integers(n_successors)])
                elif rng.random() < genre_prob:
                    cand = int(favourites[rng.integers(favourites.size)]) * m + draw(within_cdf)
                else:
                    cand = draw(global_cdf)
                if cand not in seen:
                    nxt = cand
                    break
            if nxt < 0:
                break
            seen.add(nxt)
            users.append(u)
            items.append(nxt)
            times.append(t)
            t += 60 + int(rng.exponential(1800.0))
            cur = nxt
    width = len(str(n_users))
    user_keys = np.array([f"user{u + 1:0{width}d}" for u in range(n_users)], dtype=object)
    item_keys = np.array(names, dtype=object)
    log = Interactions.from_arrays(user_keys[users], item_keys[items], times=times)
    genre_of = {name: GENRES[i // m] for i, name in enumerate(names)}
    return log, genre_of
