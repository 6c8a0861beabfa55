"""UserTowerRuntime: the saved user tower run in numpy equals TwoTower.user_vectors (torch)
for every kind of request, and importing it imports no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec.artifacts import resolve_artifact
from embedrec.data.interactions import Interactions
from embedrec.models.two_tower.serving import UserFeature, UserTowerRuntime
from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig

from .planted import planted_log

SRC = Path(__file__).resolve().parents[3] / "src"
ATOL = 1e-5


@pytest.fixture(scope="module")
def one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: threads only contend on a 2-core machine
    yield
    torch.set_num_threads(before)


def _fit(log, cfg, **kw):
    from embedrec.models.two_tower.model import TwoTower

    return TwoTower(cfg).fit(log, progress=False, **kw)


@pytest.fixture(scope="module")
def segment_model(one_thread, tmp_path_factory):
    """id + categorical segment + history user tower, int keys; saved and reloaded."""
    from embedrec.models.two_tower.model import TwoTowerConfig

    log, users, _, _ = planted_log(n_groups=4, per_group=8, n_users=80, length=6)
    user = TowerConfig(
        features=(
            FeatureSpec(name="user", kind="id"),
            FeatureSpec(name="segment", kind="categorical"),
            FeatureSpec(name="history", kind="history", max_len=5),
        ),
        embedding_dim=8,
        hidden=(16,),
        output_dim=8,
    )
    item = TowerConfig(
        features=(FeatureSpec(name="item", kind="id"),), embedding_dim=8, hidden=(), output_dim=8
    )
    cfg = TwoTowerConfig(user=user, item=item, epochs=2, batch_size=64, patience=0, seed=1)
    model = _fit(log, cfg, user_table=users)
    path = tmp_path_factory.mktemp("tt") / "segment"
    model.save(path)
    return model, path


@pytest.fixture(scope="module")
def rich_model(one_thread, tmp_path_factory):
    """Numeric + multi-categorical user features, str keys, layer norm, no L2 (dot metric)."""
    from embedrec.models.two_tower.model import TwoTowerConfig

    rng = np.random.default_rng(5)
    users = [f"u{i}" for i in range(40)]
    events_u, events_i, times = [], [], []
    for j, u in enumerate(users):
        for t, it in enumerate(rng.choice(20, size=5, replace=False)):
            events_u.append(u)
            events_i.append(f"i{it}")
            times.append(float(j * 10 + t))
    log = Interactions.from_arrays(events_u, events_i, times=times)
    table = {
        "user": users,
        "age_years": [None if i % 7 == 0 else float(18 + i) for i in range(40)],
        "tags": [["a", "b"] if i % 2 else ["c"] for i in range(40)],
    }
    user = TowerConfig(
        features=(
            FeatureSpec(name="age", kind="numeric", column="age_years"),
            FeatureSpec(name="tags", kind="multi_categorical", max_values=3, pooling="sum"),
            FeatureSpec(name="history", kind="history", max_len=4, pooling="max"),
        ),
        embedding_dim=6,
        hidden=(12,),
        output_dim=6,
        norm="layer",
        activation="tanh",
        l2_normalize=False,
    )
    item = TowerConfig(
        features=(FeatureSpec(name="item", kind="id"),),
        embedding_dim=6,
        hidden=(),
        output_dim=6,
        l2_normalize=False,
    )
    cfg = TwoTowerConfig(user=user, item=item, epochs=2, batch_size=32, patience=0, seed=2)
    model = _fit(log, cfg, user_table=table)
    path = tmp_path_factory.mktemp("tt") / "rich"
    model.save(path)
    return model, path


def _same(model, rt, histories=None, *, users=None, features=None):
    want = model.user_vectors(histories, users=users, features=features)
    got = rt.user_vectors(histories, users=users, features=features)
    assert got.dtype == np.float32 and got.shape == want.shape
    assert_allclose(got, want, atol=ATOL, rtol=0)
    return got


def test_known_users_without_history(segment_model):
    model, path = segment_model
    rt = UserTowerRuntime.load(path)
    users = list(range(80))
    got = _same(model, rt, users=users)
    # the stored histories differ, so the vectors do (the test is not comparing constants)
    assert len({tuple(np.round(r, 4)) for r in got}) == 80
    assert rt.n_users == 80 and rt.output_dim == 8 and rt.metric == "cosine"
    # the loaded model is the same model
    from embedrec.models.two_tower.model import TwoTower

    _same(TwoTower.load(path), rt, users=users)


def test_explicit_histories_with_unknown_items(segment_model):
    model, path = segment_model
    rt = UserTowerRuntime.load(path)
    histories = [
        [1, 2],
        [1, "nope", 99999],  # mixed types, as TwoTower.user_vectors receives them
        [],
        list(range(12)),  # longer than max_len=5: the 5 most recent count
        ["x"],
    ]
    _same(model, rt, histories, users=[0, 5, 999, None, 3])
    _same(model, rt, histories)
    # a history changes the vector: [] is not the stored history
    a = rt.user_vectors([[]], users=[7])
    b = rt.user_vectors(users=[7])
    assert np.abs(a - b).max() > 1e-3


def test_unknown_users_get_the_default_row(segment_model):
    model, path = segment_model
    rt = UserTowerRuntime.load(path)
    got = _same(model, rt, users=[999, "who", None])
    # every unknown user is the same cold-start user: default row, empty history
    assert_allclose(got[0], got[1], atol=0)
    assert_allclose(got[0], got[2], atol=0)
    assert not rt.knows_user(999) and rt.knows_user(3) and not rt.knows_user(None)
    assert rt.stored_history(999) == []


def test_feature_overrides(segment_model):
    model, path = segment_model
    rt = UserTowerRuntime.load(path)
    feats = [{"segment": "s3"}, None, {"segment": "zz"}, {}, {"segment": None}]
    _same(model, rt, users=[0, 5, 999, None, 4], features=feats)
    _same(model, rt, [[1], [], [2, 3], [], [9]], users=[0, 5, 999, None, 4], features=feats)
    got = _same(model, rt, features=[{"segment": f"s{g}"} for g in range(4)])
    assert len({tuple(np.round(r, 4)) for r in got}) == 4
    # a known user with an override keeps their id row: not the same as a cold user
    own = rt.user_vectors(users=[0], features=[{"segment": "s1"}])
    cold = rt.user_vectors(users=[None], features=[{"segment": "s1"}])
    assert np.abs(own - cold).max() > 1e-4


def test_numeric_and_multi_categorical_features(rich_model):
    model, path = rich_model
    rt = UserTowerRuntime.load(path)
    assert rt.metric == "dot" and rt.user_key_type == "str"
    users = ["u0", "u1", "u7", "nobody", None]
    _same(model, rt, users=users)
    feats = [
        {"age_years": 33.5, "tags": ["a", "zz"]},
        {"tags": "b|c"},
        {"age_years": None},
        {"age": 70},  # the feature's name works as well as its column
        {"age_years": 19, "tags": []},
    ]
    _same(model, rt, users=users, features=feats)
    _same(model, rt, [["i1", "i2"], [], ["nope"], ["i3"] * 9, ["i4"]], users=users, features=feats)
    _same(model, rt, [["i1"], ["i2"]], features=[{"tags": ["c"]}, {"age_years": 50.0}])


def test_stored_history_is_the_training_items(segment_model):
    model, path = segment_model
    rt = UserTowerRuntime.load(path)
    keys = model.item_keys_
    for u in (0, 17, 79):
        assert rt.stored_history(u) == keys[model.user_items_[u]].tolist()
    assert rt.stored_history(12345) == []


def test_features_describe_the_request(rich_model, segment_model):
    rt = UserTowerRuntime.load(rich_model[1])
    assert rt.features == (
        UserFeature("age", "numeric", "age_years", "features"),
        UserFeature("tags", "multi_categorical", "tags", "features"),
        UserFeature("history", "history", None, "history"),
    )
    assert set(rt.record_fields) == {"age_years", "age", "tags"}
    seg = UserTowerRuntime.load(segment_model[1])
    assert [f.source for f in seg.features] == ["user", "features", "history"]


@pytest.mark.parametrize(
    ("features", "needle"),
    [
        ({"segment": ["s1", "s2"]}, "give one value"),
        ({"segment": {"a": 1}}, "give one value"),
        ({"segmnt": "s1"}, "unknown user feature field(s) ['segmnt']"),
        ({"key": 3}, "give the user key as 'user'"),
    ],
)
def test_check_features_names_the_problem(segment_model, features, needle):
    rt = UserTowerRuntime.load(segment_model[1])
    with pytest.raises(ValueError) as info:
        rt.check_features(features)
    assert needle in str(info.value)


@pytest.mark.parametrize(
    ("features", "needle"),
    [
        ({"age_years": "old"}, "a number or null"),
        ({"age_years": True}, "a number or null"),
        ({"tags": [["a"]]}, "a list of values"),
    ],
)
def test_check_features_types(rich_model, features, needle):
    rt = UserTowerRuntime.load(rich_model[1])
    with pytest.raises(ValueError, match=needle):
        rt.check_features(features)
    rt.check_features({"age_years": 3, "tags": ["a", 1, None], "age": None})


def test_load_refuses_other_and_broken_dirs(segment_model, tmp_path):
    import shutil

    from embedrec import Embeddings

    Embeddings(["a", "b"], np.eye(2, dtype=np.float32)).save(tmp_path / "emb")
    with pytest.raises(ValueError, match="not a 'TwoTower'"):
        UserTowerRuntime.load(tmp_path / "emb")
    live = resolve_artifact(segment_model[1])[0]  # the saved generation: a flat directory
    broken = tmp_path / "broken"

    def copy(table: bool) -> None:
        """A copy of the generation, with or without its manifest's files table (without it,
        the checks behind the checksums are reached, as for a directory saved before them)."""
        if broken.exists():
            shutil.rmtree(broken)
        shutil.copytree(live, broken)
        if not table:
            manifest = json.loads((broken / "manifest.json").read_text())
            del manifest["files"]
            (broken / "manifest.json").write_text(json.dumps(manifest))

    for table in (True, False):
        copy(table)
        with np.load(broken / "user_tower.npz") as z:
            arrays = {k: z[k] for k in z.files if k != "mlp.out.bias"}
        np.savez(broken / "user_tower.npz", **arrays)
        with pytest.raises(
            ValueError,
            match=r"user_tower\.npz is corrupt"
            if table
            else r"user_tower\.npz does not fit.*mlp\.out\.bias",
        ):
            UserTowerRuntime.load(broken)
        (broken / "user_tower.npz").unlink()
        with pytest.raises(ValueError, match=r"user_tower\.npz is missing"):
            UserTowerRuntime.load(broken)
        copy(table)
        offsets = np.load(broken / "user_offsets.npy")
        np.save(broken / "user_offsets.npy", offsets[:-1])
        with pytest.raises(
            ValueError,
            match=r"user_offsets\.npy holds an array of shape"
            if table
            else r"do not match user_keys\.json",
        ):
            UserTowerRuntime.load(broken)
    manifest = json.loads((live / "manifest.json").read_text())
    manifest["config"]["user"]["features"] = "nope"
    copy(True)
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="no valid user tower config"):
        UserTowerRuntime.load(broken)


def test_needs_some_input(segment_model):
    rt = UserTowerRuntime.load(segment_model[1])
    with pytest.raises(ValueError, match="at least one"):
        rt.user_vectors()
    with pytest.raises(ValueError, match="different lengths"):
        rt.user_vectors([[1]], users=[1, 2])


def test_import_does_not_import_torch():
    code = (
        "import embedrec.models.two_tower.serving, sys; "
        "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC)},
        check=False,
    )
    assert r.returncode == 0, r.stderr
