"""The quickstart's built-in log (``genre_log``): reproducible, readable keys, and each planted
property measurable against a log generated without it."""

from collections import Counter

import numpy as np
import pytest

from embedrec.data.synthetic import GENRES, genre_log
from embedrec.eval import Popularity, RandomScorer, evaluate, leave_last_out


@pytest.fixture(scope="module")
def planted():
    return genre_log(n_users=600, seed=5)


def _histories(log):
    off = log.user_offsets()
    return [log.item[off[u] : off[u + 1]] for u in range(log.n_users)]


def test_same_seed_same_log_other_seed_other_log():
    a, genres_a = genre_log(n_users=100, seed=7)
    b, genres_b = genre_log(n_users=100, seed=7)
    c, genres_c = genre_log(n_users=100, seed=8)
    for name in ("user_keys", "item_keys", "user", "item", "time"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert genres_a == genres_b
    # other names (the word lists are drawn by seed) and other histories
    assert set(genres_c) != set(genres_a)
    assert len(c) != len(a) or not np.array_equal(c.item, a.item)


def test_readable_keys_and_well_formed_histories(planted):
    log, genre_of = planted
    assert log.n_users == 600 and log.weight is None
    assert len(genre_of) == 8 * 30
    assert {genre_of[k] for k in log.item_keys.tolist()} == set(GENRES[:8])
    for key, genre in genre_of.items():
        head, title = key.split("/")
        adjective, noun = title.split("-")
        assert head == genre and adjective.isalpha() and noun.isalpha()
    assert log.user_keys[:2].tolist() == ["user001", "user002"]
    off = log.user_offsets()
    for u, items in enumerate(_histories(log)):
        assert items.size >= 1 and np.unique(items).size == items.size  # no repeats
        times = log.time[off[u] : off[u + 1]]
        assert np.all(np.diff(times) >= 60) and np.all(times == np.round(times))
    # 5 + Poisson(15): most users have at least 5 events, none runs past the mean by far
    lengths = np.diff(off)
    assert abs(lengths.mean() - 20) < 1.5 and np.mean(lengths >= 5) > 0.95


def _top_genre_share(log, genre_of, n=3):
    """Mean share of a user's events in their n most frequent genres."""
    genre = np.array([genre_of[k] for k in log.item_keys.tolist()], dtype=object)
    shares = []
    for items in _histories(log):
        top = Counter(genre[items].tolist()).most_common(n)
        shares.append(sum(c for _, c in top) / items.size)
    return float(np.mean(shares))


def test_users_events_are_mostly_in_their_favourite_genres(planted):
    log, genre_of = planted
    # 1-3 favourite genres of 8: with genre_prob=0.9 nearly every event is in the user's
    # top 3; without favourites (genre_prob=0) fresh items come from any genre
    assert _top_genre_share(log, genre_of) > 0.9
    control, control_genres = genre_log(n_users=600, genre_prob=0.0, seed=5)
    assert _top_genre_share(control, control_genres) < 0.85


def test_popularity_is_zipf_skewed_within_genres_and_a_real_baseline(planted):
    log, genre_of = planted
    counts = dict(zip(log.item_keys.tolist(), log.item_counts().tolist(), strict=True))
    # genre_of lists each genre's items by planted popularity rank
    by_rank = np.array([counts[k] for k in genre_of]).reshape(8, 30)
    assert np.all(by_rank[:, :5].mean(axis=1) > 2 * by_rank[:, -5:].mean(axis=1))
    flat, _ = genre_log(n_users=600, zipf_exponent=0.0, seed=5)
    top_share = np.sort(log.item_counts())[::-1][:24].sum() / len(log)
    flat_share = np.sort(flat.item_counts())[::-1][:24].sum() / len(flat)
    assert top_share > 0.2 and top_share > flat_share + 0.03
    # so recommending the most popular items beats chance by far (10 of 240 candidates)
    split = leave_last_out(log)
    args = (split.train_full, split.test)
    pop = evaluate(Popularity().fit(split.train_full), *args).metrics["HR@10"]
    chance = evaluate(RandomScorer(seed=0), *args).metrics["HR@10"]
    assert pop > 2 * chance and pop > 0.08


def _top_follower_share(log, shuffle_seed=None):
    """Share of consecutive pairs (a, b) whose b is one of a's two most frequent followers."""
    histories = _histories(log)
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        histories = [rng.permutation(h) for h in histories]
    followers: dict[int, Counter] = {}
    for h in histories:
        for a, b in zip(h[:-1].tolist(), h[1:].tolist(), strict=True):
            followers.setdefault(a, Counter())[b] += 1
    top = sum(sum(c for _, c in f.most_common(2)) for f in followers.values())
    return top / sum(f.total() for f in followers.values())


def test_items_are_often_followed_by_their_planted_successors(planted):
    log, _ = planted
    # follow_prob=0.5 with 2 successors: about half the pairs go to a top-2 follower; the
    # same histories in random order (or a log without successors) give far fewer
    assert _top_follower_share(log) > 0.4
    assert _top_follower_share(log, shuffle_seed=0) < 0.2
    no_order, _ = genre_log(n_users=600, follow_prob=0.0, seed=5)
    assert _top_follower_share(no_order) < 0.2


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        ({"n_users": 0}, "n_users=0"),
        ({"n_genres": 13}, "n_genres=13"),
        ({"items_per_genre": 2}, "items_per_genre=2"),
        ({"mean_events": 4}, "mean_events=4"),
        ({"genre_prob": 1.5}, "genre_prob=1.5"),
        ({"follow_prob": -0.1}, "follow_prob=-0.1"),
        ({"zipf_exponent": -1.0}, "zipf_exponent=-1.0"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, names):
    with pytest.raises(ValueError, match=names):
        genre_log(**kwargs)
