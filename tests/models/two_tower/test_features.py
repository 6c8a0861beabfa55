"""FeatureSpec, TowerConfig and TowerEncoder: known encodings on hand-made side tables."""

from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # the tomli package, which embedrec needs on 3.10
    import tomli as tomllib
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from embedrec.models.two_tower.encoder import TowerEncoder
from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig
from embedrec.vectors import Embeddings

# Six users a..f (codes 0..5). The side table lists them out of code order, holds a row "zz"
# that is no entity (ignored) and has no row for "f" (every table feature missing).
KEYS = np.array(list("abcdef"), dtype=object)
ITEMS = np.array([10, 20, 30, 40])
COUNTS = np.array([5, 1, 3, 0, 2, 7])
TABLE: dict[str, list[Any]] = {
    "key": ["c", "a", "zz", "b", "d", "e"],
    "genre": ["rock", "pop", "jazz", "rock", None, "pop"],
    "tags": ["x| y|z", "x|y", "z|z|w", "y", None, ""],
    "age": [None, 20.0, 1000.0, 30.0, 40.0, float("nan")],
}
# The same raw values per entity, in code order (f has none).
RAW: dict[str, list[Any]] = {
    "genre": ["pop", "rock", "rock", None, "pop", None],
    "tags": ["x|y", "y", "x| y|z", None, "", None],
    "age": [20.0, 30.0, None, 40.0, float("nan"), None],
}


def spec(name: str, kind: str, **kw: Any) -> FeatureSpec:
    return FeatureSpec(name=name, kind=kind, **kw)  # type: ignore[arg-type]


def tower(*features: FeatureSpec, **kw: Any) -> TowerConfig:
    return TowerConfig(features=features, **kw)


USER = tower(
    spec("user", "id", min_count=2),
    spec("genre", "categorical"),
    spec("tags", "multi_categorical", max_values=2),
    spec("age", "numeric"),
    spec("history", "history", max_len=3),
)


def fit(config: TowerConfig = USER, table: Any = None, **kw: Any) -> TowerEncoder:
    kw.setdefault("entity_keys", KEYS)
    kw.setdefault("item_keys", ITEMS)
    kw.setdefault("entity_counts", COUNTS)
    return TowerEncoder.fit(config, table=TABLE if table is None else table, **kw)


def same_encodings(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert_array_equal(a[k], b[k], err_msg=k)


# ---------------------------------------------------------------------------------- known answers
def test_entity_encodings_known_answers() -> None:
    enc = fit()
    out = enc.encode_entities()
    assert set(out) == {"user", "genre", "tags", "age"}  # no history
    # id: code c -> row c + 2; counts (5, 1, 3, 0, 2, 7) < min_count 2 for b and d -> row 1.
    assert_array_equal(out["user"], [2, 1, 4, 1, 6, 7])
    assert out["user"].dtype == np.int64
    # genre over the entities only (zz's "jazz" ignored): pop {a, e} = 2, rock {b, c} = 2; the tie
    # goes to the first occurrence in code order (a: pop), although the table lists c (rock)
    # first. pop -> 2, rock -> 3; d (None) and f (no row) -> 1.
    assert enc.vocabulary("genre") == ["pop", "rock"]
    assert_array_equal(out["genre"], [2, 3, 3, 1, 2, 1])
    # tags: y in {a, b, c} = 3, x in {a, c} = 2, z in {c} = 1 -> y 2, x 3, z 4 (w only in zz).
    # " y" is stripped. max_values=2 keeps the first two: c "x| y|z" -> [3, 2]. None, "" and a
    # missing row -> [1, 0].
    assert enc.vocabulary("tags") == ["y", "x", "z"]
    assert_array_equal(out["tags"], [[3, 2], [2, 0], [3, 2], [1, 0], [1, 0], [1, 0]])
    # age: values 20, 30, 40 (c None, e NaN, f absent; zz's 1000 ignored): mean 30,
    # std = sqrt((100 + 0 + 100) / 3) = 8.164966; a -> -10 / 8.164966 = -1.2247449.
    center, scale = enc.numeric_stats("age")
    assert_allclose([center, scale], [30.0, math.sqrt(200 / 3)], rtol=1e-12)
    assert out["age"].dtype == np.float32
    assert_allclose(out["age"], [-1.2247449, 0, 0, 1.2247449, 0, 0], rtol=1e-6, atol=1e-7)
    # id: 6 entities + 2; genre 2 + 2; tags 3 + 2; numeric and history have no table.
    assert enc.table_sizes() == {"user": 8, "genre": 4, "tags": 5}


def test_id_max_size_keeps_most_active_entities() -> None:
    # counts (5, 1, 3, 0, 2, 7): the two most active are f (7) and a (5); the rest -> row 1,
    # but the table still has 6 + 2 rows.
    enc = fit(tower(spec("user", "id", max_size=2)))
    assert_array_equal(enc.encode_entities()["user"], [2, 1, 1, 1, 1, 7])
    assert enc.table_sizes() == {"user": 8}


def test_id_without_counts_is_plain_codes_and_rare_needs_counts() -> None:
    enc = fit(tower(spec("user", "id")), entity_counts=None)
    assert_array_equal(enc.encode_entities()["user"], np.arange(6) + 2)
    with pytest.raises(ValueError, match="entity_counts"):
        fit(tower(spec("user", "id", min_count=3)), entity_counts=None)
    with pytest.raises(ValueError, match=r"entity_counts has shape \(2,\)"):
        fit(tower(spec("user", "id")), entity_counts=np.array([1, 2]))


def test_categorical_min_count_and_max_size() -> None:
    table = {"key": list("abcdef"), "c": ["p", "q", "p", "r", "q", "p"]}
    # counts p 3, q 2, r 1
    enc = fit(tower(spec("c", "categorical", min_count=2)), table=table)
    assert enc.vocabulary("c") == ["p", "q"]
    assert_array_equal(enc.encode_entities()["c"], [2, 3, 2, 1, 3, 2])
    enc = fit(tower(spec("c", "categorical", max_size=1)), table=table)
    assert enc.vocabulary("c") == ["p"]
    assert_array_equal(enc.encode_entities()["c"], [2, 1, 2, 1, 1, 2])
    assert enc.table_sizes() == {"c": 3}


def test_multi_categorical_min_count_rare_values_share_row_one() -> None:
    # With min_count=2, z (1 entity) is out: c "x| y|z" -> x 3, y 2, z 1. Two rare values of
    # one entity collapse into a single row 1.
    enc = fit(tower(spec("tags", "multi_categorical", max_values=3, min_count=2)))
    assert enc.vocabulary("tags") == ["y", "x"]
    out = enc.encode_entities()["tags"]
    assert_array_equal(out[:3], [[3, 2, 0], [2, 0, 0], [3, 2, 1]])
    rec = enc.encode_records([{"tags": "z|w|x|z"}])["tags"]
    assert_array_equal(rec, [[1, 3, 0]])


def test_categorical_value_types() -> None:
    table = {
        "key": list("abcdef"),
        "flag": [True, False, True, None, True, False],
        "level": [3, 1, 3, None, 2, 1],
        "score": [0.5, float("nan"), 0.5, float("inf"), 1.5, 0.5],
    }
    enc = fit(
        tower(
            spec("flag", "categorical"),
            spec("level", "categorical"),
            spec("score", "categorical"),
        ),
        table=table,
    )
    out = enc.encode_entities()
    # flag: True 3, False 2 -> rows 2, 3; None -> 1
    assert enc.vocabulary("flag") == [True, False]
    assert_array_equal(out["flag"], [2, 3, 2, 1, 2, 3])
    # level: 3 (a, c) and 1 (b, f) tie at 2 -> 3 first (a); then 1; then 2 (e)
    assert enc.vocabulary("level") == [3, 1, 2]
    assert_array_equal(out["level"], [2, 3, 2, 1, 4, 3])
    # score: NaN and inf are missing; 0.5 (3) -> 2, 1.5 -> 3
    assert enc.vocabulary("score") == [0.5, 1.5]
    assert_array_equal(out["score"], [2, 1, 2, 1, 3, 2])
    # records: an int matches a float vocabulary, a str matches an int one (compared as str)
    rec = enc.encode_records(
        [{"flag": False, "level": "2", "score": 1.5}, {"flag": None, "level": 7, "score": 1}]
    )
    assert_array_equal(rec["flag"], [3, 1])
    assert_array_equal(rec["level"], [4, 1])
    assert_array_equal(rec["score"], [3, 1])


@pytest.mark.parametrize(
    ("normalize", "expected", "center_scale"),
    [
        # 20, 30, 40: (x - 20) / (40 - 20)
        ("minmax", [0.0, 0.5, 0.0, 1.0, 0.0, 0.0], (20.0, 20.0)),
        ("none", [20.0, 30.0, 0.0, 40.0, 0.0, 0.0], (0.0, 1.0)),
    ],
)
def test_numeric_normalisations(
    normalize: str, expected: list[float], center_scale: tuple[float, float]
) -> None:
    enc = fit(tower(spec("age", "numeric", normalize=normalize)))
    assert_allclose(enc.encode_entities()["age"], expected, rtol=1e-6)
    assert enc.numeric_stats("age") == center_scale


def test_numeric_log_standard() -> None:
    enc = fit(tower(spec("age", "numeric", normalize="log_standard")))
    y = np.log1p([20.0, 30.0, 40.0])  # 3.0445, 3.4340, 3.7136
    mu, sd = y.mean(), y.std()
    assert_allclose(enc.numeric_stats("age"), (mu, sd), rtol=1e-12)
    assert_allclose(
        enc.encode_entities()["age"],
        [(y[0] - mu) / sd, (y[1] - mu) / sd, 0, (y[2] - mu) / sd, 0, 0],
        rtol=1e-6,
        atol=1e-7,
    )


def test_numeric_zero_spread_divides_by_one() -> None:
    table = {"key": list("abc"), "v": [4.0, 4.0, None]}
    enc = fit(tower(spec("v", "numeric")), table=table)
    assert enc.numeric_stats("v") == (4.0, 1.0)
    assert_array_equal(enc.encode_entities()["v"], np.zeros(6, np.float32))
    assert_allclose(enc.encode_records([{"v": 6}])["v"], [2.0])  # (6 - 4) / 1


def test_numeric_string_values_and_bad_values() -> None:
    enc = fit(tower(spec("age", "numeric")))
    rec = enc.encode_records([{"age": "40"}, {"age": float("inf")}, {"age": ""}, {"age": True}])
    # 40 -> (40 - 30) / 8.164966 = 1.2247449; inf and "" missing -> 0; True = 1.0
    assert_allclose(rec["age"], [1.2247449, 0, 0, (1 - 30) / math.sqrt(200 / 3)], rtol=1e-6)
    with pytest.raises(ValueError, match="numeric feature 'age' got 'old'"):
        enc.encode_records([{"age": "old"}])
    with pytest.raises(ValueError, match=r"numeric feature 'age'.*cannot be read as numbers"):
        fit(tower(spec("age", "numeric")), table={"key": ["a"], "age": ["old"]})


# ---------------------------------------------------------------------------------- history
def test_history_left_padding_and_truncation() -> None:
    enc = fit()
    # item code c -> row c + 2: 10 -> 2, 20 -> 3, 30 -> 4, 40 -> 5; unknown 99 -> 1.
    # max_len=3 keeps the 3 most recent, most recent last, left-padded with 0.
    out = enc.encode_histories([[10, 20, 30], [40], [], [30, 99, 10, 20, 40]])
    assert out.dtype == np.int64
    assert_array_equal(out, [[2, 3, 4], [0, 0, 5], [0, 0, 0], [2, 3, 5]])
    by_code = enc.encode_histories(
        [np.array([0, 1, 2]), np.array([3], np.int32), np.array([], np.int64), [2, 0, 0, 1, 3]],
        codes=True,
    )
    assert_array_equal(by_code, [[2, 3, 4], [0, 0, 5], [0, 0, 0], [2, 3, 5]])
    with pytest.raises(ValueError, match=r"item code 4 is out of range \[0, 4\)"):
        enc.encode_histories([[4]], codes=True)
    # keys given as str are matched to the int item keys by their string form
    assert_array_equal(enc.encode_histories([np.array(["20", "x"])]), [[0, 3, 1]])


def test_history_needs_a_history_feature() -> None:
    enc = fit(tower(spec("user", "id")))
    with pytest.raises(ValueError, match="no 'history' feature"):
        enc.encode_histories([[10]])


# ---------------------------------------------------------------------------------- records
def test_encode_records_matches_encode_entities() -> None:
    enc = fit()
    records = [
        {"key": k, **{name: RAW[name][i] for name in RAW if RAW[name][i] is not None}}
        for i, k in enumerate(KEYS)
    ]
    same_encodings(enc.encode_records(records), enc.encode_entities())
    # tags as lists give the same rows as the joined strings
    as_lists = [
        {**r, "tags": r["tags"].split("|")} if isinstance(r.get("tags"), str) else r
        for r in records
    ]
    same_encodings(enc.encode_records(as_lists), enc.encode_entities())


def test_encode_records_unknown_and_missing() -> None:
    enc = fit()
    out = enc.encode_records([{}, {"key": "zz", "genre": "jazz", "tags": ["w"], "age": None}])
    assert_array_equal(out["user"], [1, 1])
    assert_array_equal(out["genre"], [1, 1])
    assert_array_equal(out["tags"], [[1, 0], [1, 0]])
    assert_array_equal(out["age"], [0.0, 0.0])
    # mixed forms in one batch: string, list, None, a single scalar
    tags = enc.encode_records(
        [{"tags": "x|y"}, {"tags": ["y", "y"]}, {"tags": None}, {"tags": "z"}]
    )
    assert_array_equal(tags["tags"], [[3, 2], [2, 0], [1, 0], [4, 0]])


def test_encode_records_reads_column_then_name() -> None:
    enc = fit(tower(spec("g", "categorical", column="genre")))
    out = enc.encode_records([{"genre": "rock"}, {"g": "pop"}, {"genre": "pop", "g": "rock"}])
    assert_array_equal(out["g"], [3, 2, 2])


def test_encode_records_rejects_bad_input() -> None:
    enc = fit()
    with pytest.raises(ValueError, match="categorical feature 'genre' got"):
        enc.encode_records([{"genre": ["pop", "rock"]}])
    with pytest.raises(TypeError, match="sequence of dicts"):
        enc.encode_records({"key": "a"})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="record #1"):
        enc.encode_records([{}, "a"])  # type: ignore[list-item]


# ---------------------------------------------------------------------------------- input forms
def test_list_columns_equal_joined_strings() -> None:
    lists = {
        "key": ["c", "a", "zz", "b", "d", "e"],
        "tags": [["x", " y", "z"], ["x", "y"], ["z", "w"], ["y"], None, []],
    }
    a = fit(tower(spec("tags", "multi_categorical", max_values=3)))
    b = fit(tower(spec("tags", "multi_categorical", max_values=3)), table=lists)
    assert a.vocabulary("tags") == b.vocabulary("tags") == ["y", "x", "z"]
    same_encodings(a.encode_entities(), b.encode_entities())
    assert_array_equal(b.encode_entities()["tags"][2], [3, 2, 4])


def test_int_list_column_and_string_records() -> None:
    table = {"key": list("abc"), "g": pa.array([[1, 2], [2], [3, 2, 2]], pa.list_(pa.int64()))}
    enc = fit(tower(spec("g", "multi_categorical", max_values=3)), table=table)
    # per entity: 2 in {a, b, c} = 3, 1 in {a} = 1, 3 in {c} = 1 (tie: 1 first, in a)
    assert enc.vocabulary("g") == [2, 1, 3]
    assert_array_equal(enc.encode_entities()["g"][:3], [[3, 2, 0], [2, 0, 0], [4, 2, 0]])
    rec = enc.encode_records([{"g": [1, 2]}, {"g": "3|2"}, {"g": np.array([2, 9])}])
    assert_array_equal(rec["g"], [[3, 2, 0], [4, 2, 0], [2, 1, 0]])


def test_pandas_polars_and_arrow_give_the_same_encodings() -> None:
    table = {
        **TABLE,
        "level": [1, 2, None, 1, 3, None],  # pandas makes it float64, polars keeps int64
    }
    cfg = tower(*USER.features, spec("level", "categorical"))
    ref = fit(cfg, table=pa.table(table))
    frames = [
        pd.DataFrame(table),
        pl.DataFrame(table, strict=False),
        pl.DataFrame(table, strict=False).with_columns(pl.col("genre").cast(pl.Categorical)),
        pd.DataFrame(table).astype({"genre": "category"}),
    ]
    for frame in frames:
        enc = fit(cfg, table=frame)
        same_encodings(enc.encode_entities(), ref.encode_entities())
    # level in code order: a 2, b 1, c 1, d 3 (e none, f no row): 1 held by 2 -> row 2; 2 and 3
    # by one each, 2 first (a) -> rows 3, 4
    assert ref.vocabulary("level") == [1, 2, 3]
    assert_array_equal(ref.encode_entities()["level"], [3, 2, 2, 4, 1, 1])


def test_int_entity_keys_against_str_table_keys() -> None:
    table = {"key": ["1", "2", "3"], "c": ["p", "q", "p"]}
    enc = TowerEncoder.fit(
        tower(spec("c", "categorical")),
        entity_keys=np.array([3, 1, 2]),
        item_keys=ITEMS,
        table=table,
    )
    assert_array_equal(enc.encode_entities()["c"], [2, 2, 3])


def test_no_matching_key_warns(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="embedrec"):
        enc = fit(tower(spec("genre", "categorical")), table={"key": ["u1"], "genre": ["pop"]})
    assert "no key of the side table" in caplog.text
    assert_array_equal(enc.encode_entities()["genre"], np.ones(6))


def test_table_errors() -> None:
    with pytest.raises(ValueError, match=r"key column 'key' holds duplicate keys, e\.g\. 'a'"):
        fit(
            table={"key": ["a", "b", "a"], "genre": ["p", "q", "r"]},
            config=tower(spec("genre", "categorical")),
        )
    with pytest.raises(ValueError, match=r"no key column 'user_id'; available columns: \['key'"):
        fit(key_column="user_id")
    with pytest.raises(ValueError, match=r"feature 'mood'.*column 'mood'.*available columns"):
        fit(tower(spec("mood", "categorical")))
    with pytest.raises(ValueError, match="reset_index"):
        fit(table=pd.DataFrame(TABLE).set_index("key"))
    with pytest.raises(ValueError, match="table=None"):
        TowerEncoder.fit(USER, entity_keys=KEYS, item_keys=ITEMS, entity_counts=COUNTS)
    with pytest.raises(TypeError, match="table must be"):
        fit(table=[("a", 1)])
    with pytest.raises(ValueError, match="entity_keys must be unique; duplicated: \\['a'\\]"):
        fit(entity_keys=np.array(["a", "b", "a"]), entity_counts=None)


# ---------------------------------------------------------------------------------- round trip
def test_json_round_trip_gives_identical_encodings() -> None:
    enc = fit()
    d = enc.to_dict()
    back = TowerEncoder.from_dict(json.loads(json.dumps(d)))
    same_encodings(back.encode_entities(), enc.encode_entities())
    records = [{"key": "c", "genre": "rock", "tags": "z|x", "age": 35}, {"key": "nope"}, {}]
    same_encodings(back.encode_records(records), enc.encode_records(records))
    hist = [[10, 20, 30, 40], [99], []]
    assert_array_equal(back.encode_histories(hist), enc.encode_histories(hist))
    assert back.table_sizes() == enc.table_sizes()
    assert back.config == enc.config
    assert back.numeric_stats("age") == enc.numeric_stats("age")
    assert back.to_dict() == d


def test_round_trip_keeps_key_types() -> None:
    cfg = tower(spec("item", "id"), spec("c", "categorical"), spec("h", "history"))
    enc = TowerEncoder.fit(
        cfg,
        entity_keys=np.array([7, 3, 5], dtype=np.int64),
        item_keys=np.array([7, 3, 5], dtype=np.int64),
        table=pd.DataFrame({"key": [3, 5, 7], "c": [1, 2, 2]}),
    )
    d = json.loads(json.dumps(enc.to_dict()))
    assert d["entity_keys"] == [7, 3, 5] and all(type(k) is int for k in d["entity_keys"])
    assert d["item_keys_same"] is True
    assert d["features"]["c"]["vocab"] == [2, 1]  # 5 and 7 hold 2, 3 holds 1
    back = TowerEncoder.from_dict(d)
    assert back.entity_keys.dtype == np.int64
    assert_array_equal(back.encode_records([{"key": 5}, {"key": "7"}])["item"], [4, 2])
    assert_array_equal(back.encode_histories([[3, 5]]), enc.encode_histories([[3, 5]]))


def test_from_dict_rejects_other_dicts() -> None:
    with pytest.raises(ValueError, match="not a TowerEncoder dict"):
        TowerEncoder.from_dict({"format": "Other"})
    d = fit().to_dict()
    d["version"] = 99
    with pytest.raises(ValueError, match="upgrade embedrec"):
        TowerEncoder.from_dict(d)
    d = fit().to_dict()
    d["features"]["genre"]["rows"] = [2, 3]
    with pytest.raises(ValueError, match=r"feature 'genre'.*corrupt"):
        TowerEncoder.from_dict(d)
    d = fit().to_dict()
    del d["features"]["age"]
    with pytest.raises(ValueError, match="corrupt"):
        TowerEncoder.from_dict(d)


# ---------------------------------------------------------------------------------- pretrained
VECS = Embeddings(["q", "c", "a"], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])


def test_pretrained_from_embeddings() -> None:
    cfg = tower(spec("user", "id"), spec("emb", "pretrained", trainable=True))
    enc = fit(cfg, pretrained={"emb": VECS, "other": VECS})
    # vector row i -> table row i + 2: q 2, c 3, a 4; entities not among the keys -> 1
    assert_array_equal(enc.encode_entities()["emb"], [4, 1, 3, 1, 1, 1])
    assert enc.table_sizes() == {"user": 8, "emb": 5}
    m = enc.pretrained_matrix("emb")
    assert m.dtype == np.float32
    assert_array_equal(m, [[0, 0], [0, 0], [1, 2], [3, 4], [5, 6]])
    # a record's key need not be an entity: "q" is a cold-start key with a vector
    assert_array_equal(enc.encode_records([{"key": "q"}, {"key": "zz"}, {}])["emb"], [2, 1, 1])
    with pytest.raises(KeyError, match="no pretrained feature 'user'"):
        enc.pretrained_matrix("user")


def test_pretrained_without_vectors_and_dim_mismatch() -> None:
    with pytest.raises(ValueError, match=r"pretrained feature 'emb' has no vectors.*path"):
        fit(tower(spec("emb", "pretrained")))
    with pytest.raises(ValueError, match=r"dim=3 does not match the pretrained vectors' dim 2"):
        fit(tower(spec("emb", "pretrained", dim=3)), pretrained={"emb": VECS})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fit(tower(spec("emb", "pretrained", path="/nonexistent/vectors.txt")))


def test_pretrained_from_word2vec_file_matches_int_keys_as_str(tmp_path: Path) -> None:
    path = tmp_path / "vectors.txt"
    Embeddings([20, 10], [[0.5, -1.0], [2.0, 0.25]]).save_word2vec_format(
        path
    )  # keys -> "20", "10"
    cfg = tower(spec("item", "id"), spec("w2v", "pretrained", path=str(path)))
    enc = TowerEncoder.fit(
        cfg, entity_keys=np.array([10, 20, 30]), item_keys=np.array([10, 20, 30])
    )
    # int entity keys matched to the file's str keys: 10 -> row 3, 20 -> row 2, 30 -> 1
    assert_array_equal(enc.encode_entities()["w2v"], [3, 2, 1])
    assert_array_equal(enc.pretrained_matrix("w2v")[2:], [[0.5, -1.0], [2.0, 0.25]])
    assert_array_equal(enc.encode_records([{"key": 20}, {"key": "10"}])["w2v"], [2, 3])
    # after a JSON round trip the vectors are reloaded from the path
    back = TowerEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
    same_encodings(back.encode_entities(), enc.encode_entities())
    assert_array_equal(back.pretrained_matrix("w2v"), enc.pretrained_matrix("w2v"))


def test_pretrained_from_embeddings_directory(tmp_path: Path) -> None:
    Embeddings([30, 10], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).save(tmp_path / "emb")
    cfg = tower(spec("v", "pretrained", path=str(tmp_path / "emb"), dim=3))
    enc = TowerEncoder.fit(cfg, entity_keys=np.array([10, 20, 30]), item_keys=np.array([1]))
    assert_array_equal(enc.encode_entities()["v"], [3, 1, 2])
    assert enc.pretrained_matrix("v").shape == (4, 3)


def test_pretrained_after_from_dict_without_path() -> None:
    cfg = tower(spec("emb", "pretrained"))
    d = json.loads(json.dumps(fit(cfg, pretrained={"emb": VECS}).to_dict()))
    back = TowerEncoder.from_dict(d)
    with pytest.raises(ValueError, match="pass pretrained="):
        back.pretrained_matrix("emb")
    back = TowerEncoder.from_dict(d, pretrained={"emb": VECS})
    assert_array_equal(back.pretrained_matrix("emb")[2:], VECS.vectors)
    other = Embeddings(["a", "q", "c"], VECS.vectors)
    with pytest.raises(ValueError, match="use the vectors the model was trained with"):
        TowerEncoder.from_dict(d, pretrained={"emb": other})


# ---------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"name": "age", "kind": "cat"},
            "FeatureSpec(name='age').kind='cat' is invalid; use one of id, categorical, "
            "multi_categorical, numeric, history, pretrained",
        ),
        ({"name": "g", "kind": "categorical", "dim": 0}, "FeatureSpec(name='g').dim=0 is invalid"),
        ({"name": "g", "kind": "categorical", "min_count": 0}, "min_count=0 is invalid"),
        ({"name": "g", "kind": "categorical", "max_size": 0}, "max_size=0 is invalid"),
        ({"name": "g", "kind": "categorical", "max_values": True}, "max_values=True is invalid"),
        ({"name": "g", "kind": "multi_categorical", "separator": ""}, "separator='' is invalid"),
        (
            {"name": "h", "kind": "history", "pooling": "avg"},
            "pooling='avg' is invalid; use one of mean",
        ),
        ({"name": "h", "kind": "history", "max_len": 0}, "max_len=0 is invalid"),
        (
            {"name": "x", "kind": "numeric", "normalize": "z"},
            "normalize='z' is invalid; use one of",
        ),
        ({"name": "x", "kind": "numeric", "dim": 4}, "dim=4 is invalid; use None: a numeric"),
        ({"name": "u", "kind": "id", "column": "uid"}, "column='uid' is invalid; use None: a 'id'"),
        ({"name": "g", "kind": "categorical", "path": "v.txt"}, "only kind='pretrained' reads"),
        ({"name": "a.b", "kind": "id"}, "FeatureSpec.name='a.b' is invalid"),
        ({"name": "", "kind": "id"}, "FeatureSpec.name='' is invalid"),
    ],
)
def test_feature_spec_validation(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")
    ):
        FeatureSpec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"features": ()}, "at least one FeatureSpec"),
        ({"features": (spec("a", "id"), spec("a", "categorical"))}, r"duplicate name\(s\) \['a'\]"),
        ({"features": (spec("a", "id"), spec("b", "id"))}, "2 kind='id' features"),
        ({"features": (spec("a", "history"), spec("b", "history"))}, "2 kind='history'"),
        ({"embedding_dim": 0}, r"TowerConfig\.embedding_dim=0 is invalid; use an integer"),
        ({"output_dim": -1}, "output_dim=-1 is invalid"),
        ({"hidden": (64, 0)}, r"hidden=\(64, 0\) is invalid"),
        ({"activation": "elu"}, "activation='elu' is invalid; use one of relu, gelu, tanh"),
        ({"dropout": 1.0}, r"dropout=1\.0 is invalid; use a float in \[0, 1\)"),
        ({"norm": "group"}, "norm='group' is invalid"),
        ({"features": ({"name": "a", "kind": "id"},)}, "use FeatureSpec"),
    ],
)
def test_tower_config_validation(kwargs: dict[str, Any], message: str) -> None:
    kwargs.setdefault("features", (spec("item", "id"),))
    with pytest.raises(ValueError, match=message):
        TowerConfig(**kwargs)


def test_validate_for_role() -> None:
    USER.validate_for("user")
    tower(spec("item", "id")).validate_for("item")
    with pytest.raises(ValueError, match="history feature 'history'; history belongs to the user"):
        USER.validate_for("item")
    with pytest.raises(ValueError, match="role='both' is invalid"):
        USER.validate_for("both")  # type: ignore[arg-type]


def test_config_from_toml_and_dict_round_trip() -> None:
    text = """
    embedding_dim = 16
    hidden = [64, 32]
    [[features]]
    name = "user"
    kind = "id"
    [[features]]
    name = "tags"
    kind = "multi_categorical"
    separator = ","
    max_values = 4
    [[features]]
    name = "w2v"
    kind = "pretrained"
    path = "vectors.txt"
    """
    cfg = TowerConfig.from_dict(tomllib.loads(text))
    assert cfg.hidden == (64, 32)
    assert cfg.features[1] == spec("tags", "multi_categorical", separator=",", max_values=4)
    assert cfg.features[2].path == "vectors.txt"
    d = cfg.to_dict()
    assert "column" not in d["features"][0]  # None fields are left out (TOML has no null)
    assert TowerConfig.from_dict(json.loads(json.dumps(d))) == cfg
    assert FeatureSpec.from_dict(cfg.features[1].to_dict()) == cfg.features[1]
    with pytest.raises(
        ValueError, match=r"unknown FeatureSpec field\(s\) \['size'\]; allowed: \['name'"
    ):
        FeatureSpec.from_dict({"name": "a", "kind": "id", "size": 3})
    with pytest.raises(ValueError, match=r"unknown TowerConfig field\(s\) \['layers'\]; allowed"):
        TowerConfig.from_dict({"features": [], "layers": [3]})
    with pytest.raises(ValueError, match=r"needs the field\(s\) \['kind'\]"):
        FeatureSpec.from_dict({"name": "a"})


# ---------------------------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.none(), st.sampled_from(["p", "q", "r", "s"])), min_size=1, max_size=12
    ),
    min_count=st.integers(1, 3),
    max_size=st.one_of(st.none(), st.integers(1, 3)),
)
def test_categorical_vocab_properties(
    values: list[str | None], min_count: int, max_size: int | None
) -> None:
    n = len(values)
    keys = np.arange(n)
    cfg = tower(spec("c", "categorical", min_count=min_count, max_size=max_size))
    enc = TowerEncoder.fit(cfg, entity_keys=keys, item_keys=keys, table={"key": keys, "c": values})
    vocab = enc.vocabulary("c")
    counts = {v: values.count(v) for v in vocab}
    # decreasing counts, ties by first occurrence, all >= min_count, at most max_size
    order = sorted(vocab, key=lambda v: (-counts[v], values.index(v)))
    assert vocab == order
    assert all(c >= min_count for c in counts.values())
    assert max_size is None or len(vocab) <= max_size
    rows = enc.encode_entities()["c"]
    expected = [vocab.index(v) + 2 if v in vocab else 1 for v in values]
    assert_array_equal(rows, expected)
    same_encodings(enc.encode_records([{"c": v} for v in values]), {"c": rows})
