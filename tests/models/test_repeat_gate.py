"""The re-click gate: training facts equal the query facts, planted signals are learned."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.data.interactions import Sequences
from embedrec.models.repeat_gate import RepeatGate, prefix_stats, training_prefixes
from embedrec.models.session_base import as_sessions


def heads(s: Sequences) -> Sequences:
    """Every prefix e_0..e_{j-1} (j >= 1) of every sequence, as explicit sequences."""
    items, times, lengths = [], [], []
    for k in range(len(s)):
        a, b = s.offsets[k], s.offsets[k + 1]
        for j in range(1, b - a):
            items.append(s.items[a : a + j])
            times.append(s.times[a : a + j])
            lengths.append(j)
    off = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=off[1:])
    return Sequences(
        np.concatenate(items).astype(np.int32) if items else np.zeros(0, np.int32),
        off,
        np.zeros(len(lengths), np.int32),
        s.item_keys,
        np.concatenate(times) if times else np.zeros(0),
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 4), min_size=1, max_size=7), min_size=1, max_size=6))
def test_training_facts_equal_the_facts_of_explicit_prefixes(sessions):
    s = as_sessions(sessions)
    stats, y = training_prefixes(s)
    if stats.length.size == 0:
        return
    explicit = prefix_stats(heads(s))
    for name in ("length", "has_repeat", "n_distinct", "last", "last_is_dup", "gap"):
        np.testing.assert_array_equal(getattr(stats, name), getattr(explicit, name), name)
    # labels by hand: the next item is in the prefix
    want = [x[j] in x[:j] for x in sessions for j in range(1, len(x))]
    assert y.tolist() == want


def test_runs_of_re_clicks_raise_the_gate():
    # after two equal clicks the next click repeats (runs); after two different ones it
    # is new
    rng = np.random.default_rng(0)
    sessions = []
    for _ in range(400):
        a, b, c = (f"i{x}" for x in rng.choice(50, 3, replace=False))
        sessions.append([a, a, a, a] if rng.random() < 0.5 else [a, b, c])
    s = as_sessions(sessions)
    gate = RepeatGate().fit(s, len(s.item_keys))
    probe = as_sessions([["i1", "i1"], ["i1", "i2"]])
    from embedrec.models.session_base import recode

    probe, _ = recode(probe, s.item_keys)
    p = gate.predict(probe)
    assert p[0] > 0.9 and p[1] < 0.1
