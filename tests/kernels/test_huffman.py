import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from embedrec.kernels.huffman import build_huffman
from tests.reference.word2vec_ref import huffman_lengths_ref


def _code(codes, lengths, w):
    return "".join(str(int(b)) for b in codes[w, : lengths[w]])


def test_huffman_codes_for_5_3_2_1_by_hand():
    # merge 1+2 -> A(3); leaf 3 ties A(3), the leaf goes first (bit 0): B = {3, A} = 6;
    # root = {5, B} = 11. Codes from the root: 5 -> "0", 3 -> "10", A -> "11",
    # inside A: 1 -> "110", 2 -> "111". Inner nodes: A = 0, B = 1, root = 2.
    codes, points, lengths = build_huffman(np.array([5, 3, 2, 1], dtype=np.int64))
    assert lengths.tolist() == [1, 2, 3, 3]
    assert [_code(codes, lengths, w) for w in range(4)] == ["0", "10", "111", "110"]
    assert points[0, :1].tolist() == [2]
    assert points[1, :2].tolist() == [2, 1]
    assert points[2, :3].tolist() == [2, 1, 0]
    assert points[3, :3].tolist() == [2, 1, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=2, max_size=60))
def test_huffman_prefix_free_and_optimal(counts):
    arr = np.array(counts, dtype=np.int64)
    codes, points, lengths = build_huffman(arr)
    words = [_code(codes, lengths, w) for w in range(len(counts))]
    # prefix-free: no code is a prefix of another
    srt = sorted(words)
    for a, b in itertools.pairwise(srt):
        assert not b.startswith(a), (a, b)
    # optimal: same expected length as a heapq Huffman code
    ref = huffman_lengths_ref(counts)
    assert int((arr * lengths).sum()) == int((arr * np.array(ref)).sum())
    # inner-node rows are valid and the root comes first
    n = len(counts)
    for w in range(n):
        assert points[w, 0] == n - 2
        assert np.all(points[w, : lengths[w]] < n - 1)


def test_frequent_words_sit_near_the_root():
    counts = np.array([1000, 500, 100, 50, 10, 5, 1, 1], dtype=np.int64)
    _, _, lengths = build_huffman(counts)
    assert np.all(np.diff(lengths) >= 0)
