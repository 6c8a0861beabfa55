"""embedrec.plot and embedrec.report: the pictures hold the data they were given (line data,
scatter offsets, colours), PNG files are PNG files of the requested size, and the HTML report
is one escaped, self-contained page."""

from __future__ import annotations

import base64
import re
import struct
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from numpy.testing import assert_allclose

from embedrec import Embeddings
from embedrec.data.interactions import Interactions
from embedrec.eval import Popularity, evaluate, leave_last_out
from embedrec.models import Item2Vec, Item2VecConfig
from embedrec.plot import (
    metrics_by_k,
    plot_index_sweep,
    plot_item_map,
    plot_loss,
    plot_metrics_at_k,
    project_2d,
    sweep_series,
)
from embedrec.report import read_labels, report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, which follows the 8-byte signature."""
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def planted_log(n_users: int = 120) -> Interactions:
    """User u walks 6 consecutive items of cluster u % 4 (items 100c .. 100c + 11)."""
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for u in range(n_users):
        start = int(rng.integers(0, 6))
        for t, j in enumerate(range(start, start + 6)):
            users.append(u)
            items.append(100 * (u % 4) + j)
            times.append(1000 + 10 * t)
    return Interactions.from_arrays(users, items, times)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """An Item2Vec trained on the leave-last-out training part of the planted log, saved."""
    log = planted_log()
    split = leave_last_out(log)
    cfg = Item2VecConfig(dim=8, epochs=4, workers=1, seed=3)
    model = Item2Vec(cfg).fit(split.train_full.sequences(min_length=2), progress=False)
    model.metadata_ = {"holdout": "leave-last-out", "note": "<script>alert(1)</script>"}
    path = tmp_path_factory.mktemp("m") / "i2v"
    model.save(path)
    return SimpleNamespace(model=model, path=path, log=log)


# ---------------------------------------------------------------------------------- loss
def _line_data(fig, ax_index=0):
    return [
        (line.get_label(), np.asarray(line.get_xdata()), np.asarray(line.get_ydata()))
        for line in fig.axes[ax_index].get_lines()
    ]


@pytest.mark.parametrize("source", ["list", "model", "directory"])
def test_loss_line_equals_the_history(trained, source):
    history = trained.model.loss_history_
    assert len(history) == 4
    given = {"list": history, "model": trained.model, "directory": trained.path}[source]
    ((_, x, y),) = _line_data(plot_loss(given))
    assert_allclose(x, [1, 2, 3, 4])
    assert_allclose(y, history, rtol=1e-12)


def test_loss_of_epoch_stats_as_two_tower_models_keep_it():
    model = SimpleNamespace(epoch_stats_=[{"loss": 2.5, "samples_per_s": 9.0}, {"loss": 1.5}])
    ((_, x, y),) = _line_data(plot_loss(model))
    assert_allclose(x, [1, 2])
    assert_allclose(y, [2.5, 1.5])


def test_loss_of_a_directory_without_history_is_refused(tmp_path):
    Embeddings(["a", "b", "c"], np.eye(3, dtype=np.float32)).save(tmp_path / "emb")
    with pytest.raises(ValueError, match="no training loss per epoch"):
        plot_loss(tmp_path / "emb")
    with pytest.raises(ValueError, match="no training loss"):
        plot_loss([])


def test_png_has_the_signature_and_the_requested_size(tmp_path):
    out = tmp_path / "sub" / "loss.png"
    plot_loss([3.0, 2.0, 1.5], out, figsize=(5.0, 3.0), dpi=80)
    assert png_size(out.read_bytes()) == (400, 240)
    # no temporary file is left beside it
    assert [p.name for p in out.parent.iterdir()] == ["loss.png"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    # a None entry in sys.modules makes `import matplotlib` raise ImportError
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=re.escape('pip install "embedrec[plot]"')):
        plot_loss([1.0, 0.5])


# ---------------------------------------------------------------------------------- metrics
def test_metric_curves_equal_the_given_metrics(trained):
    split = leave_last_out(trained.log)
    ks = (1, 5, 10)
    pop = evaluate(Popularity().fit(split.train_full), split.train_full, split.test, ks=ks)
    model = {"HR@1": 0.2, "HR@5": 0.5, "HR@10": 0.9, "NDCG@1": 0.2, "NDCG@5": 0.3}
    as_json = {"metrics": {"HR@10": 0.7, "HR@1": 0.1, "NDCG@10": 0.4}, "ci95": {}}
    fig = plot_metrics_at_k({"model": model, "popularity": pop, "json": as_json})
    assert [ax.get_ylabel() for ax in fig.axes] == ["HR@K", "NDCG@K"]
    hr = {name: (x.tolist(), y.tolist()) for name, x, y in _line_data(fig, 0)}
    assert hr["model"] == ([1, 5, 10], [0.2, 0.5, 0.9])
    assert hr["popularity"] == ([1, 5, 10], [pop.metrics[f"HR@{k}"] for k in ks])
    assert hr["json"] == ([1, 10], [0.1, 0.7])  # sorted by K
    ndcg = {name: (x.tolist(), y.tolist()) for name, x, y in _line_data(fig, 1)}
    assert ndcg["model"] == ([1, 5], [0.2, 0.3])
    assert ndcg["popularity"][1] == [pop.metrics[f"NDCG@{k}"] for k in ks]


def test_metrics_by_k_reads_results_and_flat_dicts():
    got = metrics_by_k({"metrics": {"HR@10": 0.5, "HR@20": 0.6, "Coverage@10": 0.1, "n": 3}})
    assert got == {"HR": {10: 0.5, 20: 0.6}, "Coverage": {10: 0.1}}
    with pytest.raises(TypeError, match="holds no metrics"):
        metrics_by_k(3.0)


def test_an_unknown_metric_lists_the_ones_there_are():
    with pytest.raises(ValueError, match=r"no result has MAP@K; they have HR, NDCG"):
        plot_metrics_at_k({"a": {"HR@10": 0.1, "NDCG@10": 0.1}}, metrics=("MAP",))
    with pytest.raises(ValueError, match="results is empty"):
        plot_metrics_at_k({})


# ---------------------------------------------------------------------------------- sweeps
HNSW_ROWS = [
    {"ef_search": 16, "recall@10": 0.8, "queries/s": 20000.0, "seconds": 0.05},
    {"ef_search": 64, "recall@10": 0.95, "queries/s": 8000.0, "seconds": 0.125},
]
EXACT_ROWS = [{"recall@10": 1.0, "queries/s": 1000.0, "seconds": 1.0}]


def test_sweep_points_are_recall_against_queries_per_second():
    fig = plot_index_sweep({"hnsw": HNSW_ROWS, "exact": EXACT_ROWS})
    (ax,) = fig.axes
    lines = {label: (x.tolist(), y.tolist()) for label, x, y in _line_data(fig)}
    assert lines["hnsw (ef_search)"] == ([20000.0, 8000.0], [0.8, 0.95])
    # the exact search: one star, no line
    assert lines["exact"] == ([1000.0], [1.0])
    star = next(line for line in ax.get_lines() if line.get_label() == "exact")
    assert star.get_marker() == "*" and star.get_linestyle() == "None"
    assert ax.get_xscale() == "log"
    assert sorted(t.get_text() for t in ax.texts) == ["16", "64"]
    assert ax.get_ylabel() == "recall@10 against exact search"


def test_sweep_reads_the_json_of_index_sweep():
    # the object `embedrec index sweep --json` prints, and a plain list of rows
    printed = {"kind": "hnsw", "params": {"M": 32}, "n_queries": 100, "points": HNSW_ROWS}
    assert sweep_series(printed) == {"hnsw": HNSW_ROWS}
    assert sweep_series(HNSW_ROWS) == {"index": HNSW_ROWS}
    assert sweep_series({"a": printed, "b": EXACT_ROWS}) == {"a": HNSW_ROWS, "b": EXACT_ROWS}
    with pytest.raises(ValueError, match="is not a sweep row"):
        sweep_series([{"ef_search": 16}])
    with pytest.raises(ValueError, match="no sweep row has a finite"):
        plot_index_sweep([{"recall@10": 1.0, "queries/s": None, "seconds": 0.0}])


def test_close_sweep_points_are_labelled_once():
    rows = [
        {"nprobe": p, "recall@10": 0.9, "queries/s": 1000.0 * (1 + p / 1000), "seconds": 1.0}
        for p in (1, 2, 3)
    ] + [{"nprobe": 99, "recall@10": 0.2, "queries/s": 100000.0, "seconds": 1.0}]
    (ax,) = plot_index_sweep(rows).axes
    # the first three points sit on top of each other: only the first is labelled
    assert [t.get_text() for t in ax.texts] == ["1", "99"]


# ---------------------------------------------------------------------------------- item map
def _planted_matrix() -> np.ndarray:
    """Three clusters along different axes of a 5-d space, 30 points each."""
    rng = np.random.default_rng(1)
    centres = np.array([[6, 0, 0, 0, 0], [0, 3, 0, 0, 0], [-6, -3, 0, 0, 0]], dtype=float)
    return np.repeat(centres, 30, axis=0) + 0.3 * rng.normal(size=(90, 5))


def _pca_by_eigh(x: np.ndarray) -> np.ndarray:
    """The two leading principal components from the covariance's eigenvectors (an
    independent route to what the SVD gives)."""
    c = x - x.mean(axis=0)
    w, v = np.linalg.eigh(c.T @ c)
    return c @ v[:, np.argsort(w)[::-1][:2]]


def _same_up_to_axis_sign(a: np.ndarray, b: np.ndarray) -> None:
    for j in range(2):
        s = np.sign(a[:, j] @ b[:, j])
        assert_allclose(a[:, j], s * b[:, j], atol=1e-8)


def test_map_points_are_the_pca_projection():
    x = _planted_matrix()
    fig = plot_item_map(x)
    (ax,) = fig.axes
    (points,) = ax.collections
    offsets = np.asarray(points.get_offsets())
    _same_up_to_axis_sign(offsets, _pca_by_eigh(x))
    assert_allclose(offsets, project_2d(x))
    # the sign rule: each axis's largest loading is positive, so the first cluster (+6 on
    # dimension 0, the direction of the first component) lies on the positive side
    assert offsets[:30, 0].mean() > 0


def test_cosine_embeddings_are_mapped_by_their_unit_vectors():
    x = _planted_matrix().astype(np.float32)
    emb = Embeddings([f"k{i}" for i in range(len(x))], x, metric="cosine")
    (ax,) = plot_item_map(emb).axes
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    assert_allclose(ax.collections[0].get_offsets(), project_2d(unit), atol=1e-5)
    dot = Embeddings(emb.keys, x, metric="dot")
    assert_allclose(plot_item_map(dot).axes[0].collections[0].get_offsets(), project_2d(x))


def test_map_colours_one_group_per_label_and_greys_the_rest():
    x = _planted_matrix()
    labels = ["a"] * 30 + ["b"] * 30 + ["c"] * 20 + [None] * 10
    fig = plot_item_map(x, labels, top=2)
    (ax,) = fig.axes
    xy = project_2d(x)
    groups = {c.get_label(): c for c in ax.collections}
    assert list(groups) == ["1 other labels / no label (30)", "a (30)", "b (30)"]
    assert_allclose(groups["a (30)"].get_offsets(), xy[:30])
    assert_allclose(groups["b (30)"].get_offsets(), xy[30:60])
    assert_allclose(groups["1 other labels / no label (30)"].get_offsets(), xy[60:])
    colours = {name: tuple(np.round(c.get_facecolor()[0][:3], 4)) for name, c in groups.items()}
    assert len(set(colours.values())) == 3  # one colour per group, all different
    grey = colours["1 other labels / no label (30)"]
    assert grey[0] == grey[1] == grey[2]  # the rest is grey
    assert all(len({tuple(fc[:3]) for fc in c.get_facecolor()}) == 1 for c in groups.values())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == list(groups)


def test_map_labels_by_key_follow_the_key_policy(tmp_path):
    # int keys, labels read from a file as text: "7" labels the key 7
    x = _planted_matrix()[:12]
    emb = Embeddings(list(range(12)), x.astype(np.float32), metric="dot")
    side = tmp_path / "side.csv"
    side.write_text("item,genre\n" + "".join(f"{k},{'ab'[k % 2]}\n" for k in range(10)))
    labels = read_labels(side, "item", "genre")
    assert labels["7"] == "b"
    (ax,) = plot_item_map(emb, labels).axes
    groups = {c.get_label(): len(c.get_offsets()) for c in ax.collections}
    assert groups == {"no label (2)": 2, "a (5)": 5, "b (5)": 5}


def test_map_of_many_points_uses_a_seeded_sample():
    x = np.random.default_rng(2).normal(size=(500, 4))
    a = plot_item_map(x, max_points=100, seed=5).axes[0]
    b = plot_item_map(x, max_points=100, seed=5).axes[0]
    assert len(a.collections[0].get_offsets()) == 100
    assert_allclose(a.collections[0].get_offsets(), b.collections[0].get_offsets())
    assert "(random 100 of 500)" in a.get_title()


def test_map_input_errors_name_the_fix():
    x = _planted_matrix()
    with pytest.raises(ValueError, match="labels has 3 entries but there are 90 vectors"):
        plot_item_map(x, ["a", "b", "c"])
    with pytest.raises(TypeError, match="need Embeddings"):
        plot_item_map(x, {"k0": "a"})
    with pytest.raises(ValueError, match="n_items >= 3 and dim >= 2"):
        plot_item_map(np.ones((2, 4)))
    with pytest.raises(ValueError, match="method='umap' is invalid"):
        project_2d(x, "umap")  # type: ignore[arg-type]


def test_tsne_keeps_planted_clusters_apart():
    import sklearn  # noqa: F401  (the graph extra, in the test extra)

    x = _planted_matrix()
    xy = project_2d(x, "tsne", seed=0)
    cluster = np.repeat(np.arange(3), 30)
    d = np.linalg.norm(xy[:, None] - xy[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (cluster[d.argmin(axis=1)] == cluster).all()


# ---------------------------------------------------------------------------------- report
def _images(page: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([^"]+)"', page)]


def test_report_has_every_section_and_embedded_pictures(trained, tmp_path):
    side = {k: ("<script>" if k < 200 else "other") for k in trained.model.embeddings_.keys}
    out = report(trained.path, tmp_path / "r.html", interactions=trained.log, side=side)
    page = out.read_text(encoding="utf-8")
    for anchor in ("model", "config", "loss", "map", "evaluation"):
        assert f'<section id="{anchor}">' in page
    images = _images(page)
    assert len(images) == 3  # loss, map, metrics
    assert all(img.startswith(PNG_SIGNATURE) for img in images)
    assert "<script" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Item2Vec" in page and f"<td>{len(trained.model.embeddings_)}</td>" in page
    assert "popularity" in page and "HR@50" in page
    assert f"{len(side)} of {len(side)} items have a label" in page
    assert "may be optimistic" not in page  # trained with the leave-last-out holdout


def test_report_without_a_log_or_labels_says_how_to_add_them(tmp_path):
    path = tmp_path / "<b>emb"
    x = _planted_matrix().astype(np.float32)
    Embeddings([f"k{i}" for i in range(len(x))], x).save(path)
    page = report(path, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<b>" not in page and "&lt;b&gt;emb" in page
    assert len(_images(page)) == 1  # the map; no loss recorded, no evaluation
    assert "no training loss per epoch" in page
    assert "No interaction log was given" in page
    assert "no side column was given" in page


def test_report_warns_when_the_test_events_may_have_been_trained_on(trained, tmp_path):
    model = Item2Vec.load(trained.path)
    model.metadata_ = {"holdout": "none"}
    model.save(tmp_path / "leaky")
    out = report(tmp_path / "leaky", tmp_path / "r.html", interactions=trained.log, ks=(5,))
    page = out.read_text(encoding="utf-8")
    assert "holdout=&#x27;none&#x27;" in page and "may be optimistic" in page
