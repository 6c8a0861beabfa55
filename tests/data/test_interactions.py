"""Interactions: reading (CSV/TSV/Parquet/DataFrames), filters, k-core and sequences."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embedrec.data import Interactions, Sequences, k_core, read_interactions

# A small log used by the "same result from every source" tests. Rows are deliberately not
# sorted, user u2 has two events at t=50 (stable tie-break by row), and u1 repeats item 10.
LOG: dict[str, list[Any]] = {
    "user": ["u2", "u1", "u2", "u1", "u3", "u2", "u1"],
    "item": [10, 11, 12, 10, 11, 13, 10],
    "ts": [50, 30, 50, 10, 5, 20, 30],
    "rating": [4.0, 3.5, 5.0, 1.0, 2.0, 4.5, 3.5],
    "event": ["view", "buy", "view", "view", "cart", "buy", "buy"],
}


def _csv_text(log: dict[str, list[Any]], sep: str = ",", header: bool = True) -> str:
    cols = list(log)
    lines = [sep.join(cols)] if header else []
    lines += [sep.join(str(log[c][r]) for c in cols) for r in range(len(log["user"]))]
    return "\n".join(lines) + "\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf8")
    return path


def assert_same(a: Interactions, b: Interactions) -> None:
    assert a.user_keys.tolist() == b.user_keys.tolist()
    assert a.item_keys.tolist() == b.item_keys.tolist()
    assert a.user_keys.dtype == b.user_keys.dtype and a.item_keys.dtype == b.item_keys.dtype
    assert_array_equal(a.user, b.user)
    assert_array_equal(a.item, b.item)
    assert_array_equal(a.time, b.time)
    if a.weight is None:
        assert b.weight is None
    else:
        assert b.weight is not None
        assert_array_equal(a.weight, b.weight)


KW = {"user_col": "user", "item_col": "item", "time_col": "ts", "weight_col": "rating"}


# ---------------------------------------------------------------------- sorting, keys
def test_from_arrays_sorts_by_user_then_time_with_stable_ties() -> None:
    # rows: 0 (b,1,t5) 1 (a,2,t3) 2 (a,3,t3) 3 (b,4,t1) 4 (a,5,t2)
    # user a: t2 -> row 4 (item 5), then t3 tie -> rows 1, 2 in input order (items 2, 3)
    # user b: t1 -> row 3 (item 4), t5 -> row 0 (item 1)
    inter = Interactions.from_arrays(["b", "a", "a", "b", "a"], [1, 2, 3, 4, 5], [5, 3, 3, 1, 2])
    assert inter.user_keys.tolist() == ["a", "b"]
    assert inter.item_keys[inter.item].tolist() == [5, 2, 3, 4, 1]
    assert_array_equal(inter.user, [0, 0, 0, 1, 1])
    assert_array_equal(inter.time, [2, 3, 3, 1, 5])
    assert_array_equal(inter.user_offsets(), [0, 3, 5])


def test_int_and_str_keys_keep_their_types_end_to_end(tmp_path: Path) -> None:
    inter = read_interactions(_write(tmp_path / "log.csv", _csv_text(LOG)), **KW)
    assert inter.user_keys.dtype == object and inter.item_keys.dtype == np.int64
    seqs = inter.sequences().to_lists()
    # u1: t10 item 10, t30 item 11 (row 1), t30 item 10 (row 6); u2: t20 13, t50 10, t50 12
    assert seqs == [[10, 11, 10], [13, 10, 12], [11]]
    assert all(type(k) is int for s in seqs for k in s)
    assert inter.sequences().to_lists(as_str=True)[0] == ["10", "11", "10"]
    swapped = read_interactions(tmp_path / "log.csv", user_col="item", item_col="user")
    assert swapped.user_keys.tolist() == [10, 11, 12, 13]
    assert all(type(k) is str for s in swapped.sequences().to_lists() for k in s)


def test_from_arrays_object_keys_mixed_and_missing() -> None:
    inter = Interactions.from_arrays(np.array([1, "a"], dtype=object), [1, 2])
    assert inter.user_keys.tolist() == ["1", "a"]
    ints = Interactions.from_arrays(np.array([3, 1], dtype=object), ["x", "y"])
    assert ints.user_keys.dtype == np.int64
    with pytest.raises(ValueError, match="users has 1 missing"):
        Interactions.from_arrays(np.array(["a", None], dtype=object), [1, 2])
    with pytest.raises(ValueError, match="items has 1 missing"):
        Interactions.from_arrays([1, 2], [1.0, np.nan])
    with pytest.raises(ValueError, match="times has 1 missing"):
        Interactions.from_arrays([1, 2], [1, 2], [0.0, np.nan])


def test_from_arrays_datetime64_times_are_unix_seconds() -> None:
    t = np.array(["1970-01-02T00:00:01", "1970-01-01"], dtype="datetime64[s]")
    inter = Interactions.from_arrays([1, 1], [1, 2], t)
    assert_allclose(inter.time, [0.0, 86401.0], rtol=0)


# ---------------------------------------------------------------------- sequences
def test_sessions_split_on_gaps_longer_than_session_gap() -> None:
    # user 1 at t = 0, 10, 40 (gap 30 == session_gap: same session), 100 (gap 60 > 30: new),
    # 105; user 2 at t = 0 -> sessions [a b c] [d e] [f]
    inter = Interactions.from_arrays([1, 1, 1, 1, 1, 2], list("abcdef"), [0, 10, 40, 100, 105, 0])
    seqs = inter.sequences(session_gap=30)
    assert seqs.to_lists() == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert_array_equal(seqs.offsets, [0, 3, 5, 6])
    assert_array_equal(seqs.user, [0, 0, 1])
    assert_array_equal(seqs.times, [0, 10, 40, 100, 105, 0])
    assert_array_equal(seqs.lengths(), [3, 2, 1])
    short_dropped = inter.sequences(session_gap=30, min_length=2)
    assert short_dropped.to_lists() == [["a", "b", "c"], ["d", "e"]]
    assert_array_equal(short_dropped.times, [0, 10, 40, 100, 105])
    assert inter.sequences().to_lists() == [list("abcde"), ["f"]]
    assert inter.sequences(min_length=3).to_lists() == [list("abcde")]


def test_sequences_indexing_and_empty() -> None:
    inter = Interactions.from_arrays([1, 1, 2], ["x", "y", "z"])
    seqs = inter.sequences()
    assert len(seqs) == 2
    assert seqs[0].tolist() == ["x", "y"]
    assert seqs[-1].tolist() == ["z"]
    with pytest.raises(IndexError, match="out of range"):
        seqs[2]
    none = inter.sequences(min_length=5)
    assert len(none) == 0 and none.to_lists() == []
    empty = inter.subset(np.zeros(3, dtype=bool)).sequences()
    assert isinstance(empty, Sequences) and len(empty) == 0


@pytest.mark.parametrize("bad", [{"session_gap": -1.0}, {"min_length": 0}, {"min_length": 1.5}])
def test_sequences_bad_arguments(bad: dict[str, Any]) -> None:
    inter = Interactions.from_arrays([1], [1])
    with pytest.raises(ValueError, match="invalid"):
        inter.sequences(**bad)


# ---------------------------------------------------------------------- k-core, filters
def test_k_core_needs_several_passes() -> None:
    # min_user = min_item = 2 on  u1:{a,b} u2:{a,b} u3:{b,c} u4:{c}
    # pass 1: u4 has 1 event -> drop (u4,c); item counts at the pass start are a2 b3 c2
    # pass 2: c now has 1 event -> drop (u3,c)
    # pass 3: u3 now has 1 event -> drop (u3,b)
    # pass 4: stable: u1:{a,b} u2:{a,b}. A single pass would have kept u3 and c.
    inter = Interactions.from_arrays(["u1", "u1", "u2", "u2", "u3", "u3", "u4"], list("ababbcc"))
    core = k_core(inter, min_user=2, min_item=2)
    assert core.user_keys.tolist() == ["u1", "u2"]
    assert core.item_keys.tolist() == ["a", "b"]
    assert core.sequences().to_lists() == [["a", "b"], ["a", "b"]]
    kept_keys = k_core(inter, 2, 2, compact=False)
    assert kept_keys.n_users == 4 and len(kept_keys) == 4
    assert k_core(inter) is inter


def test_k_core_that_removes_everything_says_so() -> None:
    inter = Interactions.from_arrays([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match=r"k-core .* removed all 3 events .* lower"):
        k_core(inter, min_user=2)
    with pytest.raises(ValueError, match="min_item=0 is invalid"):
        k_core(inter, min_item=0)


def test_filter_min_weight_dedupe_and_compact() -> None:
    inter = Interactions.from_arrays(
        [1, 1, 1, 2], ["a", "a", "b", "c"], [5, 5, 6, 1], weights=[4, 4, 2, 5]
    )
    assert len(inter.filter(dedupe=True)) == 3  # (1, a, 5) twice
    liked = inter.filter(min_weight=4)
    assert liked.item_keys.tolist() == ["a", "c"]  # compacted: "b" had only a 2 rating
    assert inter.filter(min_weight=4, compact=False).n_items == 3
    with pytest.raises(ValueError, match=r"min_weight=9 removed all 4 events .* largest"):
        inter.filter(min_weight=9)
    with pytest.raises(ValueError, match="needs weights"):
        Interactions.from_arrays([1], [1]).filter(min_weight=1)


def test_dedupe_subsets_and_first_occurrences() -> None:
    # user 1: a@1, b@2, a@1 (dup of row 0), a@3 (same item, later)
    inter = Interactions.from_arrays([1, 1, 1, 1], list("abaa"), [1, 2, 1, 3], [1, 2, 3, 4])
    same_time = inter.dedupe()
    assert same_time.item_keys[same_time.item].tolist() == ["a", "b", "a"]
    assert_array_equal(same_time.weight, [1, 2, 4])  # the first of the duplicates is kept
    first = inter.first_occurrences()
    assert first.item_keys[first.item].tolist() == ["a", "b"]
    assert_array_equal(first.time, [1, 2])
    with pytest.raises(ValueError, match="subset="):
        inter.dedupe(subset="items")  # type: ignore[arg-type]


def test_compact_renumbers_in_key_order() -> None:
    inter = Interactions.from_arrays([3, 1, 2], ["z", "x", "y"])
    sub = inter.subset(inter.user_keys[inter.user] != 2)
    assert sub.n_users == 3  # subset keeps the key tables
    small = sub.compact()
    assert small.user_keys.tolist() == [1, 3] and small.item_keys.tolist() == ["x", "z"]
    assert small.item_keys[small.item].tolist() == ["x", "z"]
    assert small.compact() is small


# ---------------------------------------------------------------------- sources
def test_every_source_gives_the_same_interactions(tmp_path: Path) -> None:
    import pandas as pd
    import polars as pl

    ref = read_interactions(_write(tmp_path / "log.csv", _csv_text(LOG)), **KW)
    tsv = read_interactions(_write(tmp_path / "log.tsv", _csv_text(LOG, "\t")), **KW)
    semi = read_interactions(_write(tmp_path / "log.txt", _csv_text(LOG, ";")), **KW)
    gz = tmp_path / "log.csv.gz"
    gz.write_bytes(gzip.compress(_csv_text(LOG).encode()))
    table = pa.table(LOG)
    pq.write_table(table, tmp_path / "log.parquet")
    pq.write_table(table, tmp_path / "no_extension")
    sources: list[Any] = [
        tsv,
        semi,
        read_interactions(gz, **KW),
        read_interactions(table, **KW),
        read_interactions(table.to_batches()[0], **KW),
        read_interactions(pd.DataFrame(LOG), **KW),
        read_interactions(pl.DataFrame(LOG), **KW),
        read_interactions(pl.DataFrame(LOG).lazy(), **KW),
        read_interactions(LOG, **KW),
        read_interactions(tmp_path / "log.parquet", **KW),
        read_interactions(tmp_path / "no_extension", **KW),
        read_interactions(str(tmp_path / "log.csv"), **KW),
    ]
    for other in sources:
        assert_same(ref, other)


def test_parquet_round_trip_keeps_timestamps_and_categoricals(tmp_path: Path) -> None:
    import pandas as pd

    df = pd.DataFrame(
        {
            "user": pd.Categorical(["b", "a", "b"]),
            "item": [7, 8, 9],
            "when": pd.to_datetime(
                ["2020-01-01 00:00:10", "2020-01-01 00:00:00", "2020-01-01 00:00:00"]
            ),
        }
    )
    df.to_parquet(tmp_path / "log.parquet")
    folder = tmp_path / "dataset"
    folder.mkdir()
    df.to_parquet(folder / "part-0.parquet")
    a = read_interactions(df, user_col="user", item_col="item", time_col="when")
    b = read_interactions(
        tmp_path / "log.parquet", user_col="user", item_col="item", time_col="when"
    )
    c = read_interactions(folder, user_col="user", item_col="item", time_col="when")
    assert_same(a, b)
    assert_same(a, c)
    t0 = 1577836800.0  # 2020-01-01T00:00:00Z
    assert_allclose(a.time, [t0, t0, t0 + 10], rtol=0)
    assert a.item_keys[a.item].tolist() == [8, 9, 7]


def test_headerless_tsv_by_position_and_by_column_names(tmp_path: Path) -> None:
    text = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n"
    path = _write(tmp_path / "u.data", text)
    by_pos = read_interactions(
        path, user_col=0, item_col=1, weight_col=2, time_col=3, has_header=False
    )
    named = read_interactions(
        path,
        user_col="u",
        item_col="i",
        weight_col="r",
        time_col="t",
        has_header=False,
        column_names=["u", "i", "r", "t"],
    )
    assert_same(by_pos, named)
    assert by_pos.sequences().to_lists() == [[302], [377, 242]]
    with pytest.raises(ValueError, match=r"no header: name its columns"):
        read_interactions(path, user_col="u", item_col="i", has_header=False)
    with pytest.raises(ValueError, match="user_col=7 is out of range"):
        read_interactions(path, user_col=7, item_col=1, has_header=False)


def test_multi_character_separator(tmp_path: Path) -> None:
    # MovieLens-1M style ratings.dat: "::" separated, no header
    path = _write(tmp_path / "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n")
    inter = read_interactions(path, user_col=0, item_col=1, time_col=3, has_header=False)
    assert inter.item_keys[inter.item].tolist() == [1193, 661]
    explicit = read_interactions(
        _write(tmp_path / "r.txt", "u::i\n1::2\n"), user_col="u", item_col="i", sep="::"
    )
    assert explicit.item_keys.tolist() == [2]


def test_time_types_and_formats(tmp_path: Path) -> None:
    day = 86400.0
    base = {"user": [1, 1, 1], "item": [1, 2, 3]}
    dates = read_interactions(
        _write(
            tmp_path / "d.csv", "user,item,day\n1,1,1970-01-03\n1,2,1970-01-02\n1,3,1970-01-02\n"
        ),
        user_col="user",
        item_col="item",
        time_col="day",
    )
    assert_allclose(dates.time, [day, day, 2 * day], rtol=0)
    assert dates.item_keys[dates.item].tolist() == [2, 3, 1]
    text = {**base, "t": ["02/01/1970 00:00", "01/01/1970 00:01", "01/01/1970 00:00"]}
    parsed = read_interactions(
        text, user_col="user", item_col="item", time_col="t", time_format="%d/%m/%Y %H:%M"
    )
    assert_allclose(parsed.time, [0.0, 60.0, day], rtol=0)
    ms = read_interactions(
        {**base, "t": [1500, 500, 2500.5]},
        user_col="user",
        item_col="item",
        time_col="t",
        time_unit="ms",
    )
    assert_allclose(ms.time, [0.5, 1.5, 2.5005], rtol=1e-12)
    aware = pa.table({**base, "t": pa.array([0, 2, 1], pa.timestamp("ms", tz="Europe/Berlin"))})
    got = read_interactions(aware, user_col="user", item_col="item", time_col="t")
    assert_allclose(got.time, [0.0, 0.001, 0.002], rtol=0)


def test_keys_as_str_keeps_leading_zeros(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\n01,007\n1,7\n")
    plain = read_interactions(path, user_col="user", item_col="item")
    assert plain.item_keys.tolist() == [7]
    text = read_interactions(path, user_col="user", item_col="item", keys_as_str=True)
    assert text.user_keys.tolist() == ["01", "1"] and text.item_keys.tolist() == ["007", "7"]


# ---------------------------------------------------------------------- read-time filters
def test_min_weight_event_types_and_k_core_when_reading(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _csv_text(LOG))
    liked = read_interactions(path, **KW, min_weight=4)
    # ratings >= 4: (u2,10,4.0) (u2,12,5.0) (u2,13,4.5); u1 and u3 vanish from the key table
    assert liked.user_keys.tolist() == ["u2"] and liked.item_keys.tolist() == [10, 12, 13]
    buys = read_interactions(path, **KW, event_col="event", event_types=["buy"])
    assert buys.sequences().to_lists() == [[11, 10], [13]]
    both = read_interactions(path, **KW, event_col=4, event_types=["buy", "cart"])
    assert len(both) == 4
    core = read_interactions(path, **KW, min_user_interactions=2, min_item_interactions=2)
    # counts: u1 3 (11, 10, 10), u2 3 (10, 12, 13), u3 1 (11); items 10:3 11:2 12:1 13:1
    # pass 1 drops u3, 12, 13 -> u2 keeps (10), u1 keeps (11, 10, 10)
    # pass 2: u2 has 1 event, item 11 has 1 -> u1 keeps (10, 10); pass 3: stable
    assert core.user_keys.tolist() == ["u1"] and core.item_keys.tolist() == [10]
    assert core.sequences().to_lists() == [[10, 10]]


def test_dedupe_when_reading(tmp_path: Path) -> None:
    log = {col: [*values, values[6]] for col, values in LOG.items()}  # row 7 repeats row 6
    path = _write(tmp_path / "log.csv", _csv_text(log))
    assert len(read_interactions(path, **KW)) == 8  # duplicates are kept by default
    deduped = read_interactions(path, **KW, dedupe=True)
    assert len(deduped) == 7  # (u1, 10, t10) and (u1, 10, t30) differ in time: both stay
    # without a time column, duplicates are repeated (user, item) pairs, first one kept
    no_time = read_interactions(path, user_col="user", item_col="item", dedupe=True)
    assert no_time.sequences().to_lists() == [[11, 10], [10, 12, 13], [11]]


# ---------------------------------------------------------------------- errors
def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist; check the path"):
        read_interactions(tmp_path / "nope.csv", user_col="u", item_col="i")
    with pytest.raises(ValueError, match="is empty"):
        read_interactions(_write(tmp_path / "e.csv", ""), user_col="u", item_col="i")
    with pytest.raises(ValueError, match="has no rows"):
        read_interactions(_write(tmp_path / "h.csv", "u,i\n"), user_col="u", item_col="i")
    with pytest.raises(ValueError, match=r"folder without \.parquet"):
        read_interactions(tmp_path, user_col="u", item_col="i")


def test_missing_column_lists_the_available_ones(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _csv_text(LOG))
    with pytest.raises(ValueError, match=r"available columns: \['user', 'item', 'ts'"):
        read_interactions(path, user_col="customer", item_col="item")
    with pytest.raises(ValueError, match="did you mean 'user'"):
        read_interactions(path, user_col="User", item_col="item")
    with pytest.raises(ValueError, match="not found in the DataFrame"):
        import pandas as pd

        read_interactions(pd.DataFrame(LOG), user_col="user", item_col="sku")
    with pytest.raises(ValueError, match="same column"):
        read_interactions(path, user_col="user", item_col=0)


def test_missing_ids_are_counted_or_dropped() -> None:
    log = {"user": ["a", None, "b", ""], "item": [1.0, 2.0, np.nan, 4.0], "t": [1, 2, 3, 4]}
    with pytest.raises(
        ValueError, match=r"2 in user column 'user', 1 in item column 'item'.*drop_missing=True"
    ):
        read_interactions(log, user_col="user", item_col="item", time_col="t")
    kept = read_interactions(log, user_col="user", item_col="item", time_col="t", drop_missing=True)
    assert kept.user_keys.tolist() == ["a"] and kept.item_keys.tolist() == [1]
    with pytest.raises(ValueError, match="drop_missing=True removed every row"):
        read_interactions(
            {"user": [None], "item": [1]}, user_col="user", item_col="item", drop_missing=True
        )
    with pytest.raises(ValueError, match="1 in time column 't'"):
        read_interactions(
            {"user": [1, 2], "item": [1, 2], "t": [1.0, None]},
            user_col="user",
            item_col="item",
            time_col="t",
        )


def test_text_time_without_format_and_bad_format() -> None:
    log = {"user": [1], "item": [1], "t": ["2020-01-01 10:00"]}
    with pytest.raises(ValueError, match=r"holds text .* pass time_format="):
        read_interactions(log, user_col="user", item_col="item", time_col="t")
    with pytest.raises(ValueError, match=r"1 values of time column 't' do not match"):
        read_interactions(log, user_col="user", item_col="item", time_col="t", time_format="%Y")


def test_filters_that_remove_everything_name_the_filter(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _csv_text(LOG))
    with pytest.raises(ValueError, match=r"min_weight=6 removed all 7 events .* is 5"):
        read_interactions(path, **KW, min_weight=6)
    with pytest.raises(
        ValueError,
        match=r"event_types=\['click'\] removed all 7 events; column 'event' holds \['buy'",
    ):
        read_interactions(path, **KW, event_col="event", event_types=["click"])
    with pytest.raises(ValueError, match=r"min_user_interactions=3, min_item_interactions=2"):
        read_interactions(path, **KW, min_user_interactions=3, min_item_interactions=2)
    with pytest.warns(UserWarning, match=r"\['clik'\] do not occur"):
        read_interactions(path, **KW, event_col="event", event_types=["buy", "clik"])


def test_bad_arguments(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", _csv_text(LOG))
    with pytest.raises(ValueError, match="needs weight_col"):
        read_interactions(path, user_col="user", item_col="item", min_weight=3)
    with pytest.raises(ValueError, match="needs event_col"):
        read_interactions(path, user_col="user", item_col="item", event_types=["buy"])
    with pytest.raises(ValueError, match="min_user_interactions=0 is invalid"):
        read_interactions(path, user_col="user", item_col="item", min_user_interactions=0)
    with pytest.raises(ValueError, match="event_types is empty"):
        read_interactions(path, **KW, event_col="event", event_types=[])
    with pytest.raises(ValueError, match="it must hold numbers"):
        read_interactions(path, user_col="user", item_col="item", weight_col="event")
    with pytest.raises(ValueError, match="non-integer"):
        read_interactions(path, user_col="user", item_col="rating")
    with pytest.raises(ValueError, match="cannot parse"):
        read_interactions(
            _write(tmp_path / "ragged.csv", "u,i\n1,2\n3,4,5\n"), user_col="u", item_col="i"
        )
    with pytest.raises(TypeError, match="pandas or polars DataFrame"):
        read_interactions([1, 2, 3], user_col="u", item_col="i")


# ---------------------------------------------------------------------- properties
def _reference_core(pairs: list[tuple[int, int]], ku: int, ki: int) -> list[int]:
    """Rows kept by the k-core, removing one violating user or item at a time."""
    alive = set(range(len(pairs)))
    while True:
        users: dict[int, int] = {}
        items: dict[int, int] = {}
        for r in alive:
            users[pairs[r][0]] = users.get(pairs[r][0], 0) + 1
            items[pairs[r][1]] = items.get(pairs[r][1], 0) + 1
        bad = next((r for r in alive if users[pairs[r][0]] < ku or items[pairs[r][1]] < ki), None)
        if bad is None:
            return sorted(alive)
        u, i = pairs[bad]
        if users[u] < ku:
            alive -= {r for r in alive if pairs[r][0] == u}
        else:
            alive -= {r for r in alive if pairs[r][1] == i}


events = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(events, st.integers(1, 4), st.integers(1, 4))
def test_k_core_matches_one_at_a_time_removal(
    pairs: list[tuple[int, int]], ku: int, ki: int
) -> None:
    users, items = zip(*pairs, strict=True)
    inter = Interactions.from_arrays(list(users), list(items))  # time = row number
    expected = _reference_core(pairs, ku, ki)
    if not expected:
        if ku > 1 or ki > 1:
            with pytest.raises(ValueError, match="removed all"):
                k_core(inter, ku, ki)
        return
    core = k_core(inter, ku, ki)
    assert (core.user_counts() >= ku).all() and (core.item_counts() >= ki).all()
    assert (core.user_counts() > 0).all() and (core.item_counts() > 0).all()  # compacted
    got = sorted(
        zip(core.user_keys[core.user].tolist(), core.time.astype(int).tolist(), strict=True)
    )
    assert got == sorted((pairs[r][0], r) for r in expected)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 5), st.integers(0, 100)),
        min_size=1,
        max_size=50,
    ),
    st.one_of(st.none(), st.integers(0, 40)),
)
def test_sequences_partition_the_sorted_log(
    rows: list[tuple[str, int, int]], gap: int | None
) -> None:
    users, items, times = (list(c) for c in zip(*rows, strict=True))
    inter = Interactions.from_arrays(users, items, times)
    # sorted order = Python's sort by (user, time, row)
    order = sorted(range(len(rows)), key=lambda r: (users[r], times[r], r))
    assert inter.item_keys[inter.item].tolist() == [items[r] for r in order]
    seqs = inter.sequences(session_gap=gap)
    assert_array_equal(seqs.items, inter.item)
    assert_array_equal(seqs.times, inter.time)
    for j in range(len(seqs)):
        a, b = seqs.offsets[j], seqs.offsets[j + 1]
        assert b > a and (inter.user[a:b] == seqs.user[j]).all()
        if gap is not None:
            assert (np.diff(seqs.times[a:b]) <= gap).all()
        if j + 1 < len(seqs) and seqs.user[j + 1] == seqs.user[j]:
            assert gap is not None and seqs.times[b] - seqs.times[b - 1] > gap
    long = inter.sequences(session_gap=gap, min_length=3)
    assert all(len(s) >= 3 for s in long.to_lists())
    assert sum(len(s) for s in seqs.to_lists() if len(s) >= 3) == long.items.size


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["user_item_time", "user_item"]),
)
def test_dedupe_keeps_the_first_of_each_group(
    rows: list[tuple[int, int, int]], subset: str
) -> None:
    users, items, times = (list(c) for c in zip(*rows, strict=True))
    inter = Interactions.from_arrays(users, items, times, weights=np.arange(len(rows)))
    out = inter.dedupe(subset=subset)  # type: ignore[arg-type]
    seen: set[tuple[int, ...]] = set()
    expected = []  # walk the events in sorted (user, time, row) order
    for r in sorted(range(len(rows)), key=lambda r: (users[r], times[r], r)):
        key = (users[r], items[r], times[r]) if subset == "user_item_time" else (users[r], items[r])
        if key not in seen:
            seen.add(key)
            expected.append(r)
    assert out.weight is not None
    assert out.weight.astype(int).tolist() == expected


def test_nanosecond_timestamps_past_2_pow_53_are_read(tmp_path: Path) -> None:
    """pandas 2 stores datetimes in nanoseconds (1.58e18 ticks in 2020, past 2**53): the
    reader's cast to float64 refused them."""
    import pandas as pd

    when = pd.to_datetime(["2020-01-01 00:00:10", "2020-01-01 00:00:00"]).as_unit("ns")
    df = pd.DataFrame({"user": ["a", "a"], "item": [1, 2], "when": when})
    df.to_parquet(tmp_path / "ns.parquet")
    for source in (df, tmp_path / "ns.parquet"):
        log = read_interactions(source, user_col="user", item_col="item", time_col="when")
        assert_allclose(np.sort(log.time), [1577836800.0, 1577836810.0], rtol=0)


def test_sequences_rows_is_a_block_of_whole_sequences_on_the_same_tables():
    from embedrec.data.interactions import Sequences

    s = Sequences(
        np.array([0, 1, 2, 1, 0, 2], dtype=np.int32),
        np.array([0, 2, 3, 6]),
        np.array([5, 6, 7], dtype=np.int32),
        np.array(["a", "b", "c"], dtype=object),
        np.arange(6, dtype=np.float64),
    )
    block = s.rows(1, 3)
    assert block.to_lists() == [["c"], ["b", "a", "c"]] == s.to_lists()[1:3]
    assert block.user.tolist() == [6, 7] and block.times.tolist() == [2.0, 3.0, 4.0, 5.0]
    assert block.item_keys is s.item_keys
    assert len(s.rows(2, 2)) == 0
