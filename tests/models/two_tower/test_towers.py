"""Tower, TwoTowerNet and the numpy forward: hand-derived pooling, gradients, export, parity."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

from embedrec.models.two_tower.infer import numpy_tower_forward, tower_weights
from embedrec.models.two_tower.spec import FeatureSpec, TowerConfig
from embedrec.models.two_tower.towers import Tower, TwoTowerNet, export_tower

# rows of a 2-d table used by the hand-made pooling cases (row 0 = padding, row 1 = unknown)
V = np.array(
    [
        [0.0, 0.0],  # 0 padding
        [0.5, 0.5],  # 1 unknown
        [1.0, 2.0],  # 2
        [3.0, -4.0],  # 3
        [-1.0, -2.0],  # 4
    ],
    dtype=np.float32,
)


def _identity_tower(spec: FeatureSpec, **kw: object) -> Tower:
    """A tower whose output is its (single) feature's pooled 2-d vector (2 * n_pools wide):
    hidden=(), the output layer set to the identity, no normalisation; the table set to V."""
    width = 2 * spec.n_pools
    cfg = TowerConfig(
        features=(spec,), embedding_dim=2, hidden=(), output_dim=width, l2_normalize=False
    )
    shared = None
    if spec.kind == "history":
        shared = {"history": torch.nn.Embedding(len(V), 2, padding_idx=0)}
    tower = Tower(cfg, {spec.name: len(V)}, shared=shared, **kw)  # type: ignore[arg-type]
    with torch.no_grad():
        tower.table(spec.name).weight.copy_(torch.from_numpy(V))
        tower.mlp.out.weight.copy_(torch.eye(width))
        tower.mlp.out.bias.zero_()
    return tower.eval()


BAGS = np.array([[2, 3, 0], [0, 0, 0], [4, 0, 0], [1, 4, 4]], dtype=np.int64)
# mean: [2,3,0] -> ((1+3)/2, (2-4)/2) = (2, -1); [0,0,0] -> zeros; [4,0,0] -> (-1, -2);
#       [1,4,4] -> ((0.5-1-1)/3, (0.5-2-2)/3) = (-0.5, -7/6)
# sum:  (4, -2); zeros; (-1, -2); (-1.5, -3.5)
# max:  (3, 2); zeros; (-1, -2) (a padding 0 must not win); (0.5, 0.5)
POOLED = {
    "mean": [[2.0, -1.0], [0.0, 0.0], [-1.0, -2.0], [-0.5, -7.0 / 6.0]],
    "sum": [[4.0, -2.0], [0.0, 0.0], [-1.0, -2.0], [-1.5, -3.5]],
    "max": [[3.0, 2.0], [0.0, 0.0], [-1.0, -2.0], [0.5, 0.5]],
}


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
@pytest.mark.parametrize("kind", ["multi_categorical", "history"])
def test_pooling_known_answers(kind: str, pooling: str) -> None:
    size = {"max_values": 3} if kind == "multi_categorical" else {"max_len": 3}
    spec = FeatureSpec(name="bag", kind=kind, pooling=pooling, **size)  # type: ignore[arg-type]
    tower = _identity_tower(spec)
    out = tower({"bag": torch.from_numpy(BAGS)})
    assert not torch.isnan(out).any()
    assert_allclose(out.detach().numpy(), POOLED[pooling], rtol=1e-6, atol=1e-7)
    weights = tower_weights(tower)
    assert_allclose(
        numpy_tower_forward(tower.config, weights, {"bag": BAGS}),
        POOLED[pooling],
        rtol=1e-6,
        atol=1e-7,
    )


def test_recency_pooling_known_answer() -> None:
    # half_life 1, L = 3: weights by position (oldest..newest) 1/4, 1/2, 1; padding 0.
    # [2, 3, 0]: rows 2 (pos 0, w 1/4) and 3 (pos 1, w 1/2), the newest slot is padding:
    #   ((1/4)(1, 2) + (1/2)(3, -4)) / (3/4) = ((0.25 + 1.5), (0.5 - 2)) / 0.75 = (7/3, -2)
    # [0, 0, 0] -> zeros; [0, 0, 4] -> (-1, -2);
    # [1, 4, 3]: (1/4)(0.5, 0.5) + (1/2)(-1, -2) + 1 (3, -4) = (2.625, -4.875); / 1.75
    bags = np.array([[2, 3, 0], [0, 0, 0], [0, 0, 4], [1, 4, 3]], dtype=np.int64)
    expect = [[7 / 3, -2.0], [0.0, 0.0], [-1.0, -2.0], [2.625 / 1.75, -4.875 / 1.75]]
    spec = FeatureSpec(name="bag", kind="history", pooling="recency", half_life=1.0, max_len=3)
    tower = _identity_tower(spec)
    assert_allclose(tower({"bag": torch.from_numpy(bags)}).detach().numpy(), expect, rtol=1e-6)
    assert_allclose(
        numpy_tower_forward(tower.config, tower_weights(tower), {"bag": bags}), expect, rtol=1e-6
    )
    with pytest.raises(ValueError, match="recency"):
        FeatureSpec(name="g", kind="multi_categorical", pooling="recency")
    with pytest.raises(ValueError, match="half_life"):
        FeatureSpec(name="h", kind="history", pooling="recency", half_life=0)


def test_multi_scale_recency_pooling_known_answer() -> None:
    # half-lives (1, 2), L = 3, one pooled vector per half-life, concatenated in that order.
    # [2, 3, 0] (row 3 newest, one step back is row 2; the last slot is padding):
    #   half-life 1: weights 1/4, 1/2 -> (7/3, -2) as in the single-scale case
    #   half-life 2: weights 2^-1, 2^-1/2 -> (0.5 (1, 2) + r (3, -4)) / (0.5 + r), r = 1/sqrt 2
    # [1, 4, 3] half-life 2: weights 1/2, r, 1 on (0.5, 0.5), (-1, -2), (3, -4)
    r = 2**-0.5
    h2_a = [(0.5 * 1 + r * 3) / (0.5 + r), (0.5 * 2 - r * 4) / (0.5 + r)]
    h2_d = [(0.25 - r + 3) / (1.5 + r), (0.25 - 2 * r - 4) / (1.5 + r)]
    bags = np.array([[2, 3, 0], [0, 0, 0], [0, 0, 4], [1, 4, 3]], dtype=np.int64)
    expect = [
        [7 / 3, -2.0, *h2_a],
        [0.0, 0.0, 0.0, 0.0],
        [-1.0, -2.0, -1.0, -2.0],
        [2.625 / 1.75, -4.875 / 1.75, *h2_d],
    ]
    spec = FeatureSpec(name="bag", kind="history", pooling="recency", half_life=(1, 2), max_len=3)
    assert spec.half_life == (1.0, 2.0) and spec.n_pools == 2
    tower = _identity_tower(spec)
    got = tower({"bag": torch.from_numpy(bags)}).detach().numpy()
    assert_allclose(got, expect, rtol=1e-6, atol=1e-7)
    assert_allclose(
        numpy_tower_forward(tower.config, tower_weights(tower), {"bag": bags}),
        expect,
        rtol=1e-6,
        atol=1e-7,
    )
    # a list (TOML) becomes a tuple; one scale equals the plain float; bad scales are named
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    assert FeatureSpec(name="h", kind="history", half_life=[3]).half_lives == (3.0,)
    for bad in ((), (1.0, 0.0), (1.0, float("inf")), (True,)):
        with pytest.raises(ValueError, match="half_life"):
            FeatureSpec(name="h", kind="history", pooling="recency", half_life=bad)
    # other poolings ignore the half-lives: one pooled vector
    assert FeatureSpec(name="h", kind="history", pooling="mean", half_life=(1, 2)).n_pools == 1


def test_concatenation_order_and_l2() -> None:
    # features (age numeric, item id 1-d): the concat is [age, table_item[row]]; the output
    # layer is the identity on 2 columns, so item row 2 (value 4) with age 3 gives (3, 4),
    # normalised to (0.6, 0.8); age 0 with row 0 (padding, 0) gives (0, 0), kept at 0.
    cfg = TowerConfig(
        features=(FeatureSpec(name="age", kind="numeric"), FeatureSpec(name="item", kind="id")),
        embedding_dim=1,
        hidden=(),
        output_dim=2,
    )
    tower = Tower(cfg, {"item": 3}).eval()
    assert tower.input_dim == 2
    assert tower.feature_names == ("age", "item")
    with torch.no_grad():
        tower.table("item").weight.copy_(torch.tensor([[0.0], [7.0], [4.0]]))
        tower.mlp.out.weight.copy_(torch.eye(2))
        tower.mlp.out.bias.zero_()
    feats = {"age": torch.tensor([3.0, 0.0]), "item": torch.tensor([2, 0])}
    expect = [[0.6, 0.8], [0.0, 0.0]]
    assert_allclose(tower(feats).detach().numpy(), expect, rtol=1e-6, atol=1e-7)
    np_feats = {k: v.numpy() for k, v in feats.items()}
    assert_allclose(
        numpy_tower_forward(cfg, tower_weights(tower), np_feats), expect, rtol=1e-6, atol=1e-7
    )


# ---------------------------------------------------------------------------------- full nets
USER = (
    FeatureSpec(name="user", kind="id"),
    FeatureSpec(name="country", kind="categorical", dim=3),
    FeatureSpec(name="genres", kind="multi_categorical", max_values=4, pooling="sum"),
    FeatureSpec(name="age", kind="numeric"),
    FeatureSpec(name="hist", kind="history", max_len=5),
    FeatureSpec(name="text", kind="pretrained"),
    FeatureSpec(name="bio", kind="pretrained", trainable=True),
)
ITEM = (
    FeatureSpec(name="item", kind="id"),
    FeatureSpec(name="type", kind="categorical"),  # a name ModuleDict would refuse
    FeatureSpec(name="tags", kind="multi_categorical", max_values=3, pooling="max"),
    FeatureSpec(name="desc", kind="pretrained"),
)
USER_SIZES = {"user": 6, "country": 4, "genres": 5}
ITEM_SIZES = {"item": 9, "type": 3, "tags": 6}
N_ITEMS = 9


def _pretrained(rows: int, dim: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(rows, dim)).astype(np.float32)
    m[:2] = 0.0
    return m


def _net(**kw: object) -> TwoTowerNet:
    user = TowerConfig(features=USER, embedding_dim=4, hidden=(8, 6), output_dim=5, **kw)  # type: ignore[arg-type]
    item = TowerConfig(features=ITEM, embedding_dim=4, hidden=(7,), output_dim=5, **kw)  # type: ignore[arg-type]
    return TwoTowerNet(
        user,
        item,
        USER_SIZES,
        ITEM_SIZES,
        user_pretrained={"text": _pretrained(7, 3, 1), "bio": _pretrained(5, 2, 2)},
        item_pretrained={"desc": _pretrained(4, 6, 3)},
    )


def _user_feats(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    genres = rng.integers(0, 5, size=(n, 4))
    genres[0] = 0  # an all-padding bag
    hist = rng.integers(1, N_ITEMS, size=(n, 5))
    hist[:, : n % 5] = 0  # left padding
    return {
        "user": rng.integers(0, 6, size=n),
        "country": rng.integers(1, 4, size=n),
        "genres": genres,
        "age": rng.normal(size=n).astype(np.float32),
        "hist": hist,
        "text": rng.integers(0, 7, size=n),
        "bio": rng.integers(1, 5, size=n),
    }


def _item_feats(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    tags = rng.integers(0, 6, size=(n, 3))
    tags[-1] = 0
    return {
        "item": rng.integers(2, N_ITEMS, size=n),
        "type": rng.integers(0, 3, size=n),
        "tags": tags,
        "desc": rng.integers(1, 4, size=n),
    }


def _t(feats: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    return {k: torch.from_numpy(v) for k, v in feats.items()}


def test_shapes_tables_and_init() -> None:
    torch.manual_seed(0)
    net = _net()
    q, p = net(_t(_user_feats(6, 0)), _t(_item_feats(4, 1)))
    assert q.shape == (6, 5) and p.shape == (4, 5)
    assert q.dtype == torch.float32
    assert_allclose(q.norm(dim=1).detach().numpy(), 1.0, rtol=1e-5)
    # user: id 4 + country 3 + genres 4 + age 1 + hist 4 + text 3 + bio 2 = 21
    assert net.user_tower.input_dim == 21
    # item: id 4 + type 4 + tags 4 + desc 6 = 18
    assert net.item_tower.input_dim == 18
    assert net.user_tower.feature_names == tuple(f.name for f in USER)
    shared = net.item_tower.table("item")
    assert net.user_tower.table("hist") is shared
    # the shared table is one parameter of the net, listed once
    params = list(net.parameters())
    assert len(params) == len({id(x) for x in params})
    assert sum(x is shared.weight for x in params) == 1
    for tower in (net.user_tower, net.item_tower):
        for name in tower.tables:
            w = tower.table(name).weight.detach()
            assert tower.table(name).padding_idx == 0
            assert_array_equal(w[0].numpy(), 0.0)
    # normal(0, 0.05) init: the 36 non-padding entries of the 9x4 item table have std ~0.05
    w = shared.weight.detach()[1:].numpy()
    assert 0.02 < w.std() < 0.09
    # pretrained tables copy their vectors; row 0 zero; frozen unless trainable
    text = net.user_tower.table("text")
    assert_array_equal(text.weight.detach().numpy(), _pretrained(7, 3, 1))
    assert not text.weight.requires_grad
    assert net.user_tower.table("bio").weight.requires_grad
    assert not net.item_tower.table("desc").weight.requires_grad


def test_gradient_reaches_every_trainable_parameter() -> None:
    torch.manual_seed(1)
    net = _net(activation="tanh", norm="layer").train()
    uf = _user_feats(6, 2)
    itf = _item_feats(6, 3)
    # item row 8 is in no item batch row but in a history: only the bag can train it
    itf["item"] = np.array([2, 3, 4, 5, 6, 7])
    uf["hist"][1] = [0, 0, 0, 8, 8]
    q, p = net(_t(uf), _t(itf))
    (q * p).sum().backward()
    for name, param in net.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
            assert param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name
    frozen = {n for n, x in net.named_parameters() if not x.requires_grad}
    assert frozen == {"user_tower.tables.text.weight", "item_tower.tables.desc.weight"}
    g = net.item_tower.table("item").weight.grad
    assert g is not None
    assert g[8].abs().sum() > 0  # reached through the user's history bag
    assert_array_equal(g[0].numpy(), 0.0)  # padding row: never trained


def test_padding_rows_stay_zero_after_a_step() -> None:
    torch.manual_seed(2)
    net = _net()
    opt = torch.optim.Adam([x for x in net.parameters() if x.requires_grad], lr=0.1)
    before = net.item_tower.table("item").weight.detach().clone()
    for seed in range(3):
        q, p = net(_t(_user_feats(5, seed)), _t(_item_feats(5, seed + 10)))
        opt.zero_grad()
        (-(q * p).sum()).backward()
        opt.step()
    after = net.item_tower.table("item").weight.detach()
    assert not torch.equal(before[2:], after[2:])  # the step did train the table
    for tower in (net.user_tower, net.item_tower):
        for name in tower.tables:
            assert_array_equal(tower.table(name).weight.detach()[0].numpy(), 0.0, err_msg=name)


@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
@pytest.mark.parametrize("activation", ["relu", "gelu", "tanh"])
def test_numpy_forward_matches_torch_eval(activation: str, norm: str) -> None:
    torch.manual_seed(3)
    net = _net(activation=activation, norm=norm, dropout=0.3, l2_normalize=False)
    rng = np.random.default_rng(4)
    with torch.no_grad():  # random weights everywhere, incl. norm affine and running stats
        for tower in (net.user_tower, net.item_tower):
            for x in tower.parameters():
                x.copy_(torch.from_numpy(rng.normal(size=tuple(x.shape)).astype(np.float32)))
            for name, buf in tower.named_buffers():
                if name.endswith("running_mean"):
                    buf.copy_(torch.from_numpy(rng.normal(size=buf.shape).astype(np.float32)))
                elif name.endswith("running_var"):
                    buf.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, buf.shape).astype(np.float32)))
    net.eval()
    for tower, feats in ((net.user_tower, _user_feats(7, 5)), (net.item_tower, _item_feats(7, 6))):
        expect = tower(_t(feats)).detach().numpy()
        got = numpy_tower_forward(tower.config, tower_weights(tower), feats)
        assert got.dtype == np.float32 and got.shape == expect.shape
        assert_allclose(got, expect, rtol=1e-5, atol=1e-5)
    # and with the output normalised
    cfg = net.user_tower.config
    assert not cfg.l2_normalize
    unit = Tower(
        dataclasses.replace(cfg, l2_normalize=True),
        USER_SIZES,
        shared={"history": net.item_tower.table("item")},
        pretrained={"text": _pretrained(7, 3, 1), "bio": _pretrained(5, 2, 2)},
    )
    unit.load_state_dict(net.user_tower.state_dict())
    unit.eval()
    feats = _user_feats(4, 8)
    expect = unit(_t(feats)).detach().numpy()
    got = numpy_tower_forward(unit.config, tower_weights(unit), feats)
    assert_allclose(got, expect, rtol=1e-5, atol=1e-6)
    assert_allclose(np.linalg.norm(got, axis=1), 1.0, rtol=1e-5)


def test_tower_weights_are_float32_copies_with_buffers() -> None:
    torch.manual_seed(4)
    net = _net(norm="batch")
    net.train()
    net(_t(_user_feats(6, 1)), _t(_item_feats(6, 2)))  # updates the running stats
    w = tower_weights(net.user_tower)
    assert set(w) == set(net.user_tower.state_dict())
    assert "tables.hist.weight" in w  # the shared item table travels with the user tower
    assert w["mlp.norm0.running_mean"].dtype == np.float32
    assert np.abs(w["mlp.norm0.running_mean"]).sum() > 0
    assert w["mlp.norm0.num_batches_tracked"].dtype == np.int64
    assert all(v.dtype == np.float32 for k, v in w.items() if "num_batches" not in k)
    with torch.no_grad():
        net.user_tower.table("user").weight.add_(1.0)
    assert not np.array_equal(
        w["tables.user.weight"][1:], tower_weights(net.user_tower)["tables.user.weight"][1:]
    )


def test_export_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(5)
    net = _net(norm="batch", activation="gelu")
    tower = net.user_tower.eval()
    feats = _t(_user_feats(4, 9))
    batch = torch.export.Dim("batch")
    program = torch.export.export(tower, (feats,), dynamic_shapes=({k: {0: batch} for k in feats},))
    module = program.module()
    for n in (4, 1, 7):  # other batch sizes than the traced one
        f = _t(_user_feats(n, 10 + n))
        assert_allclose(module(f).detach().numpy(), tower(f).detach().numpy(), atol=1e-6)
    # the positional form written by export_tower, in export_signature order
    path = export_tower(tower, tmp_path / "user.pt2")
    names = [s["name"] for s in tower.export_signature()]
    assert names == list(tower.feature_names)
    assert tower.export_signature()[2] == {
        "name": "genres",
        "kind": "multi_categorical",
        "dtype": "int64",
        "shape": ["batch", 4],
    }
    loaded = torch.export.load(path).module()
    f = _t(_user_feats(3, 20))
    assert_allclose(
        loaded(*[f[k] for k in names]).detach().numpy(), tower(f).detach().numpy(), atol=1e-6
    )


# ---------------------------------------------------------------------------------- validation
def _forwards() -> list[Callable[[dict[str, np.ndarray]], object]]:
    torch.manual_seed(6)
    tower = _net().item_tower.eval()
    weights = tower_weights(tower)

    def torch_fwd(feats: dict[str, np.ndarray]) -> object:
        return tower(_t(feats))

    def numpy_fwd(feats: dict[str, np.ndarray]) -> object:
        return numpy_tower_forward(tower.config, weights, feats)

    return [torch_fwd, numpy_fwd]


@pytest.mark.parametrize("which", [0, 1], ids=["torch", "numpy"])
def test_bad_inputs_raise_clear_errors(which: int) -> None:
    fwd = _forwards()[which]
    good = _item_feats(3, 0)
    fwd(good)
    bad = dict(good)
    del bad["tags"]
    with pytest.raises(KeyError, match=r"lack \['tags'\].*expects \['item', 'type', 'tags'"):
        fwd(bad)
    bad = {**good, "tags": good["tags"][:, :2]}
    with pytest.raises(ValueError, match=r"'tags'.*shape \(3, 2\).*expected \(3, 3\)"):
        fwd(bad)
    bad = {**good, "type": good["type"][:2]}
    with pytest.raises(ValueError, match=r"'type'.*shape \(2,\).*expected \(3,\)"):
        fwd(bad)
    bad = {**good, "tags": np.array([[1, 2, 6], [0, 0, 0], [1, 1, 1]])}
    with pytest.raises(IndexError, match=r"'tags' holds row 6.*table of 6 rows"):
        fwd(bad)
    bad = {**good, "item": np.array([2, -1, 3])}
    with pytest.raises(IndexError, match=r"'item' holds row -1.*table of 9 rows"):
        fwd(bad)
    bad = {**good, "type": good["type"].astype(np.float32)}
    with pytest.raises(TypeError, match=r"'type'.*integer rows"):
        fwd(bad)


def _cfg(*features: FeatureSpec, dim: int = 4, out: int = 5) -> TowerConfig:
    return TowerConfig(features=features, embedding_dim=dim, output_dim=out, hidden=())


def test_construction_errors() -> None:
    item = _cfg(FeatureSpec(name="item", kind="id"))
    hist = _cfg(FeatureSpec(name="hist", kind="history"))
    with pytest.raises(ValueError, match=r"output_dim=5 != item\.output_dim=3"):
        TwoTowerNet(hist, _cfg(FeatureSpec(name="item", kind="id"), out=3), {}, {"item": 4})
    with pytest.raises(ValueError, match="item tower has no 'id' feature"):
        TwoTowerNet(hist, _cfg(FeatureSpec(name="c", kind="categorical")), {}, {"c": 4})
    with pytest.raises(ValueError, match=r"dim 4 but the item id table 'item'.*has dim 8"):
        TwoTowerNet(hist, _cfg(FeatureSpec(name="item", kind="id"), dim=8), {}, {"item": 4})
    with pytest.raises(ValueError, match="history belongs to the user tower"):
        TwoTowerNet(item, hist, {"item": 4}, {})
    with pytest.raises(ValueError, match="build the towers with TwoTowerNet"):
        Tower(hist, {})
    with pytest.raises(ValueError, match=r"table_sizes has no entry for id feature 'item'"):
        Tower(item, {"other": 3})
    with pytest.raises(ValueError, match=r"table_sizes\['item'\]=1 is invalid"):
        Tower(item, {"item": 1})
    pre = _cfg(FeatureSpec(name="text", kind="pretrained", dim=3))
    with pytest.raises(ValueError, match="needs its initial vectors"):
        Tower(pre, {})
    with pytest.raises(ValueError, match=r"dim=3 but its vectors have shape \(5, 2\)"):
        Tower(pre, {}, pretrained={"text": _pretrained(5, 2, 0)})
    with pytest.raises(ValueError, match=r"shape \(5, 3\) but table_sizes\['text'\]=6"):
        Tower(pre, {"text": 6}, pretrained={"text": _pretrained(5, 3, 0)})
    with pytest.raises(ValueError, match=r"not pretrained features of this tower"):
        Tower(item, {"item": 4}, pretrained={"item": _pretrained(4, 4, 0)})
