"""TwoTower: planted structure recovered, every loss trains, persistence, resume, seeds."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from embedrec.eval import evaluate, leave_last_out  # noqa: E402
from embedrec.models.two_tower import FeatureSpec, TowerConfig  # noqa: E402
from embedrec.models.two_tower.model import TwoTower, TwoTowerConfig  # noqa: E402

from .planted import planted_log  # noqa: E402

ID_HISTORY = TowerConfig(
    features=(FeatureSpec(name="user", kind="id"), FeatureSpec(name="history", kind="history")),
    embedding_dim=16,
    hidden=(32,),
    output_dim=16,
)
ITEM_ID = TowerConfig(
    features=(FeatureSpec(name="item", kind="id"),), embedding_dim=16, hidden=(), output_dim=16
)


def _cfg(**kw):
    base = dict(
        user=ID_HISTORY, item=ITEM_ID, epochs=15, batch_size=128, lr=0.01, patience=0, seed=3
    )
    base.update(kw)
    return TwoTowerConfig(**base)


@pytest.fixture(scope="module")
def planted():
    log, users, items, groups = planted_log()
    return log, users, items, groups, leave_last_out(log)


def _in_group_rate(model, log, groups, per_group=12, k=5):
    """Share of the top-k recommendations (by user key alone) inside the user's group."""
    hits = 0
    users = list(range(60))
    res = model.recommend_users(None, k, users=users)
    for u, row in zip(users, res.keys, strict=True):
        hits += sum(int(i) // per_group == groups[u] for i in row)
    return hits / (len(users) * k)


@pytest.mark.parametrize(
    "loss,extra",
    [
        ("softmax", {"logq": "counts"}),
        ("softmax", {"logq": "none"}),
        ("softmax", {"logq": "streaming"}),
        ("mixed", {"num_negatives": 32}),
        ("dssm", {"num_negatives": 8, "epochs": 25}),
        ("bce", {"num_negatives": 8, "epochs": 25, "temperature": 0.2}),
    ],
)
def test_planted_preferences_recovered(planted, loss, extra):
    log, _, _, groups, split = planted
    model = TwoTower(_cfg(loss=loss, **extra)).fit(split.train_full, progress=False)
    # next item: the test item is one of the 4 unseen items of the user's group, and the
    # catalogue has 120 items, so random Recall@10 is ~0.08 and perfect is 1.0
    res = evaluate(model, split.train_full, split.test, ks=(10,))
    assert res.metrics["Recall@10"] >= 0.9, (loss, res.metrics)
    assert _in_group_rate(model, log, groups) >= 0.9


def test_side_features_serve_a_cold_user(planted):
    _, users, items, _, split = planted
    user = TowerConfig(
        features=(
            FeatureSpec(name="user", kind="id"),
            FeatureSpec(name="segment", kind="categorical"),
            FeatureSpec(name="history", kind="history"),
        ),
        embedding_dim=16,
        hidden=(32,),
        output_dim=16,
    )
    item = TowerConfig(
        features=(
            FeatureSpec(name="item", kind="id"),
            FeatureSpec(name="genre", kind="categorical"),
        ),
        embedding_dim=16,
        hidden=(),
        output_dim=16,
    )
    model = TwoTower(_cfg(user=user, item=item)).fit(
        split.train_full, user_table=users, item_table=items, progress=False
    )
    # a user never seen, with no history: only the segment feature says what they like
    for g in (0, 3, 7):
        rec = model.recommend([], k=6, features={"segment": f"s{g}"})
        assert sum(int(i) // 12 == g for i in rec.keys) >= 5, (g, rec.keys)


MULTI_SCALE = TowerConfig(
    features=(
        FeatureSpec(name="user", kind="id"),
        FeatureSpec(name="history", kind="history", pooling="recency", half_life=(1, 8)),
    ),
    embedding_dim=16,
    hidden=(32,),
    output_dim=16,
)


@pytest.mark.parametrize("user", [ID_HISTORY, MULTI_SCALE], ids=["mean", "multi-scale"])
def test_save_load_gives_identical_scores(planted, tmp_path, user):
    split = planted[4]
    model = TwoTower(_cfg(epochs=3, user=user)).fit(split.train, valid=split.valid, progress=False)
    model.save(tmp_path / "tt")
    again = TwoTower.load(tmp_path / "tt")
    hist = [[1, 2, 3], [50, 51], []]
    cands = np.arange(120)
    np.testing.assert_array_equal(
        model.score(hist, cands, users=[0, 5, 999]), again.score(hist, cands, users=[0, 5, 999])
    )
    np.testing.assert_array_equal(model.embeddings_.vectors, again.embeddings_.vectors)
    assert again.best_epoch_ == model.best_epoch_
    a = model.recommend(user=4, k=5)
    b = again.recommend(user=4, k=5)
    assert a.keys.tolist() == b.keys.tolist()


def test_seed_reproducible_on_cpu(planted):
    _, _, _, _, split = planted
    a = TwoTower(_cfg(epochs=2)).fit(split.train_full, progress=False)
    b = TwoTower(_cfg(epochs=2)).fit(split.train_full, progress=False)
    np.testing.assert_array_equal(a.embeddings_.vectors, b.embeddings_.vectors)
    c = TwoTower(_cfg(epochs=2, seed=4)).fit(split.train_full, progress=False)
    assert not np.array_equal(a.embeddings_.vectors, c.embeddings_.vectors)


def test_resume_from_checkpoint_matches_an_uninterrupted_run(planted, tmp_path):
    _, _, _, _, split = planted
    straight = TwoTower(_cfg(epochs=4)).fit(split.train, valid=split.valid, progress=False)
    ckpt = tmp_path / "ckpt"
    TwoTower(_cfg(epochs=2)).fit(
        split.train, valid=split.valid, checkpoint_dir=ckpt, progress=False
    )
    resumed = TwoTower(_cfg(epochs=4)).fit(
        split.train, valid=split.valid, checkpoint_dir=ckpt, resume=True, progress=False
    )
    np.testing.assert_allclose(resumed.embeddings_.vectors, straight.embeddings_.vectors, atol=1e-6)
    assert [s["epoch"] for s in resumed.epoch_stats_] == [1, 2, 3, 4]


def test_early_stopping_keeps_the_best_epoch(planted):
    _, _, _, _, split = planted
    seen = []
    model = TwoTower(_cfg(epochs=12, patience=2, lr=0.05)).fit(
        split.train,
        valid=split.valid,
        progress=False,
        callbacks=[lambda m, e, s: seen.append(s["valid_NDCG@50"])],
    )
    best = int(np.argmax(seen)) + 1
    assert model.best_epoch_ == best
    assert len(seen) == 12 or len(seen) - best == 2


def test_unknown_history_items_are_reported(planted):
    _, _, _, _, split = planted
    model = TwoTower(_cfg(epochs=1)).fit(split.train_full, progress=False)
    rec = model.recommend([1, "nope", 99999], k=3)
    assert rec.unknown == ["nope", 99999]
    assert len(rec.keys) == 3 and 1 not in rec.keys.tolist()


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"loss": "dssm"}, "num_negatives"),
        ({"loss": "mixed"}, "num_negatives"),
        ({"temperature": 0.0}, "temperature"),
        ({"loss": "hinge"}, "loss"),
        ({"history_mode": "all"}, "history_mode"),
        ({"batch_size": 0}, "batch_size"),
        ({"examples_per_user": 0}, "examples_per_user"),
    ],
)
def test_config_validation_names_the_field(kw, match):
    with pytest.raises(ValueError, match=match):
        _cfg(**kw)


def test_towers_must_share_an_output_dim():
    item = TowerConfig(features=(FeatureSpec(name="item", kind="id"),), output_dim=8)
    with pytest.raises(ValueError, match="output_dim"):
        _cfg(item=item)


def test_config_round_trips_through_a_dict():
    cfg = _cfg(loss="mixed", num_negatives=5)
    assert TwoTowerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown TwoTowerConfig"):
        TwoTowerConfig.from_dict({"epoch": 3})


def test_pretrained_item_vectors_survive_save_and_load(planted, tmp_path):
    from embedrec.vectors import Embeddings

    split = planted[4]
    rng = np.random.default_rng(0)
    # item vectors that already encode the groups (as Item2Vec's would), given at fit time
    centers = rng.normal(size=(10, 8))
    vecs = np.stack([centers[i // 12] + 0.1 * rng.normal(size=8) for i in range(120)])
    emb = Embeddings(list(range(120)), vecs.astype(np.float32))
    item = TowerConfig(
        features=(
            FeatureSpec(name="item", kind="id"),
            FeatureSpec(name="i2v", kind="pretrained", trainable=False),
        ),
        embedding_dim=16,
        hidden=(),
        output_dim=16,
    )
    model = TwoTower(_cfg(item=item, epochs=3)).fit(
        split.train_full, pretrained={"i2v": emb}, progress=False
    )
    table = model.net_.item_tower.table("i2v").weight.detach().numpy()
    np.testing.assert_allclose(table[2:], vecs, rtol=1e-6)  # frozen: still the input vectors
    model.save(tmp_path / "tt")
    again = TwoTower.load(tmp_path / "tt")
    np.testing.assert_array_equal(again.embeddings_.vectors, model.embeddings_.vectors)
    cands = np.arange(120)
    np.testing.assert_array_equal(
        model.score([[1, 2]], cands, users=[3]), again.score([[1, 2]], cands, users=[3])
    )


@pytest.mark.parametrize("user", [ID_HISTORY, MULTI_SCALE], ids=["mean", "multi-scale"])
def test_exported_user_tower_matches_the_model(planted, tmp_path, user):
    split = planted[4]
    model = TwoTower(_cfg(epochs=1, user=user)).fit(split.train_full, progress=False)
    path = model.export_user_tower(tmp_path / "user.pt2")
    program = torch.export.load(str(path)).module()
    net = model.net_
    names = [s["name"] for s in net.user_tower.export_signature()]
    feats = {
        "user": np.array([2, 3, 1], dtype=np.int64),  # rows: users 0 and 1, then unknown
        "history": model.user_encoder_.encode_histories([[1, 2, 3], [], [7]]),
    }
    args = [torch.as_tensor(feats[n]) for n in names]
    with torch.no_grad():
        got = program(*args).numpy()
        want = net.user_tower({k: torch.as_tensor(v) for k, v in feats.items()}).numpy()
    np.testing.assert_allclose(got, want, atol=1e-6)


def _train_data(user_of_event):
    from embedrec.models.two_tower.train import TrainData

    users = np.asarray(user_of_event, dtype=np.int64)
    n = len(users)
    return TrainData(
        user=torch.as_tensor(users),
        item=torch.zeros(n, dtype=torch.int64),
        event=np.arange(n, dtype=np.int64),
        event_user=users,
        log_item=np.zeros(n, dtype=np.int64),
        user_start=np.zeros(n, dtype=np.int64),
        user_end=np.full(n, n, dtype=np.int64),
        user_static={},
        item_static={},
        history_name=None,
        max_len=0,
        mode="prefix",
        device=torch.device("cpu"),
    )


def test_examples_per_user_caps_each_user_with_a_fresh_uniform_subset():
    # user 0 has 10 events, user 1 has 3, user 2 has 1; a cap of 4 keeps 4 + 3 + 1
    data = _train_data([0] * 10 + [1] * 3 + [2])
    assert data.n_batches(2) == 7 and data.n_batches(2, per_user=4) == 4
    rng = np.random.default_rng(0)
    picks = np.zeros(10)
    epochs = 2000
    for _ in range(epochs):
        order = data.epoch_order(rng, 4)
        assert len(order) == len(set(order.tolist())) == 8
        per_user = np.bincount(data.event_user[order], minlength=3)
        assert per_user.tolist() == [4, 3, 1]
        picks[order[order < 10]] += 1
    # each of user 0's events is kept with probability 4/10; binomial SD ~0.011 over 2000
    np.testing.assert_allclose(picks / epochs, 0.4, atol=0.05)
    # no cap: a permutation of every example
    assert sorted(data.epoch_order(rng, None).tolist()) == list(range(14))


def test_examples_per_user_trains_on_the_planted_data(planted):
    _, _, _, _, split = planted
    model = TwoTower(_cfg(examples_per_user=8, epochs=25)).fit(split.train_full, progress=False)
    res = evaluate(model, split.train_full, split.test, ks=(10,))
    assert res.metrics["Recall@10"] >= 0.9, res.metrics
