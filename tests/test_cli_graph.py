"""`embedrec graph train|eval` on Zachary's karate club, and its error handling."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from embedrec.cli.graph import graph_format
from embedrec.cli.main import cli
from embedrec.models.walks import DeepWalk, Node2Vec

#: Mr Hi's faction (Zachary 1977; networkx's club attribute) in karate.adjlist's 1-based ids
MR_HI = {1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 17, 18, 20, 22}
SMALL = (
    "--dim 16 --walks-per-node 10 --walk-length 20 --window 5 --epochs 2 --workers 1 --seed 3"
).split()


def run(*args, ok=True):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def karate(shared_data):
    return shared_data.require("graphs", "karate", "karate.adjlist")


@pytest.fixture(scope="module")
def factions(tmp_path_factory):
    """OpenNE-format labels: `node label` per line, the two factions of the club."""
    path = tmp_path_factory.mktemp("labels") / "factions.txt"
    lines = [f"{i} {'hi' if i in MR_HI else 'officer'}" for i in range(1, 35)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def deepwalk_dir(karate, tmp_path_factory):
    out = tmp_path_factory.mktemp("models") / "dw"
    result = run(
        "-q", "graph", "train", karate, "--method", "deepwalk", "--out", out, *SMALL, "--json"
    )
    return out, json.loads(result.stdout)


def test_format_from_extension(tmp_path):
    assert graph_format(tmp_path / "g.mat", "auto") == "mat"
    assert graph_format(tmp_path / "g.adjlist", "auto") == "adjlist"
    assert graph_format(tmp_path / "g.ADJLIST.gz", "auto") == "adjlist"
    assert graph_format(tmp_path / "g.edgelist", "auto") == "edgelist"
    assert graph_format(tmp_path / "g.txt.gz", "auto") == "edgelist"
    assert graph_format(tmp_path / "g.mat", "edgelist") == "edgelist"


def test_train_summary_and_saved_model(deepwalk_dir):
    out, summary = deepwalk_dir
    # Zachary's club: 34 members, 78 friendships
    assert (summary["n_nodes"], summary["n_edges"]) == (34, 78)
    assert summary["method"] == "deepwalk" and summary["dim"] == 16
    assert not summary["directed"] and not summary["weighted"]
    assert summary["config"]["walk_length"] == 20 and summary["config"]["seed"] == 3
    assert set(summary["timings"]) == {"walks_s", "train_s"}
    model = DeepWalk.load(out)
    assert sorted(model.embeddings_.keys) == list(range(1, 35))
    assert model.config.window == 5


def test_eval_node_classification_finds_the_factions(deepwalk_dir, factions):
    """The two factions are the club's two dense halves, so DeepWalk vectors separate them:
    Micro-F1 well above the 17/34 = 0.5 of always answering one faction (measured 0.95 with
    this seed; the bound leaves room for other BLAS/numba builds)."""
    out, _ = deepwalk_dir
    result = run(
        "graph", "eval", out, "--labels", factions, "--train-fraction", 0.5, "--repeats", 5,
        "--json",
    )  # fmt: skip
    res = json.loads(result.stdout)
    nc = res["node_classification"]
    assert (nc["n_nodes"], nc["n_labels"], nc["repeats"]) == (34, 2, 5)
    part = nc["fractions"]["0.5"]
    assert (part["n_train"], part["n_test"]) == (17, 17)
    assert part["micro_f1"]["mean"] >= 0.8
    assert len(part["micro_f1"]["runs"]) == 5
    assert "link_prediction" not in res


def test_train_and_eval_print_tables_by_default(karate, deepwalk_dir, factions, tmp_path):
    text = run("-q", "graph", "train", karate, "--out", tmp_path / "m", *SMALL).stdout
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in text.splitlines()}
    assert fields["graph"] == "34 nodes, 78 edges (undirected, unweighted)"
    assert fields["saved"].endswith("(DeepWalk, vectors of dim 16)")
    args = ["--labels", factions, "--train-fraction", 0.5, "--repeats", 2]
    lines = run("-q", "graph", "eval", deepwalk_dir[0], *args).stdout.splitlines()
    assert lines[0].startswith(f"node classification ({factions}: 34 labelled nodes, 2 labels")
    assert lines[1].split() == ["train", "fraction", "train", "test", "micro-F1", "macro-F1"]
    # half of the 34 labelled nodes train, the other half test
    assert lines[2].split()[:3] == ["0.5", "17", "17"] and len(lines) == 3


def test_eval_labels_of_unknown_nodes_fail_or_are_skipped(deepwalk_dir, factions, tmp_path):
    labels = tmp_path / "extra.txt"
    labels.write_text(factions.read_text(encoding="utf-8") + "99 hi\n", encoding="utf-8")
    res = run("-q", "graph", "eval", deepwalk_dir[0], "--labels", labels, ok=False)
    assert res.exit_code == 2
    # the CLI's way to skip them is named (and the Python API's, the same message)
    assert "--missing skip" in res.stderr and "[99]" in res.stderr
    args = ["--labels", labels, "--train-fraction", 0.5, "--repeats", 1, "--missing", "skip"]
    res = run("-q", "graph", "eval", deepwalk_dir[0], *args, "--json")
    assert json.loads(res.stdout)["node_classification"]["n_nodes"] == 34


def test_eval_link_prediction_on_the_club(deepwalk_dir, karate):
    out, _ = deepwalk_dir
    result = run("-q", "graph", "eval", out, "--link-prediction", karate, "--seed", 1, "--json")
    lp = json.loads(result.stdout)["link_prediction"]
    # 78 edges, half held out (a spanning tree of 33 edges stays), as many non-edges
    assert lp["n_test_edges"] == lp["n_non_edges"] == 39
    # classifier halves: 19 + 19 pairs to train, 20 + 20 to score
    assert (lp["n_classifier_train"], lp["n_classifier_eval"]) == (38, 40)
    assert lp["method"] == "deepwalk" and lp["graph"] == str(karate)
    # the club is too small for a stable AUC (0.4-0.66 over seeds): only check the range
    assert 0.0 <= lp["cosine_auc"] <= 1.0 and 0.0 <= lp["hadamard_auc"] <= 1.0


def test_eval_link_prediction_planted_cliques(tmp_path):
    """Two 15-cliques joined by one edge: held-out edges lie inside a clique, non-edges cross
    (the bridge is never held out), and walks rarely cross, so retrained DeepWalk vectors
    separate them (AUC 1.0 measured over seeds 0-3; the bound leaves room for other builds)."""
    k = 15
    lines = [f"{a} {b}" for c in (0, k) for a in range(c, c + k) for b in range(a + 1, c + k)]
    edges = tmp_path / "cliques.edgelist"
    edges.write_text("\n".join([*lines, f"0 {k}"]) + "\n", encoding="utf-8")
    out = tmp_path / "m"
    run("-q", "graph", "train", edges, "--out", out, *SMALL)
    result = run("-q", "graph", "eval", out, "--link-prediction", edges, "--workers", 1, "--json")
    lp = json.loads(result.stdout)["link_prediction"]
    assert lp["n_edges"] == 2 * 105 + 1 and lp["n_test_edges"] == 106
    assert lp["cosine_auc"] >= 0.95 and lp["hadamard_auc"] >= 0.95


def test_node2vec_with_config_file_and_overriding_flags(karate, tmp_path):
    cfg = tmp_path / "n2v.toml"
    cfg.write_text("dim = 12\np = 0.5\nq = 2.0\nwalk_length = 10\nworkers = 1\n", encoding="utf-8")
    out = tmp_path / "n2v"
    result = run(
        "-q", "graph", "train", karate, "--method", "node2vec", "--out", out,
        "--config", cfg, "--q", 4.0, "--walks-per-node", 4, "--unweighted", "--json",
    )  # fmt: skip
    summary = json.loads(result.stdout)
    model = Node2Vec.load(out)
    # the file gives dim, p and walk_length; the flag replaces its q
    assert (model.config.dim, model.config.p, model.config.q) == (12, 0.5, 4.0)
    assert model.config.walks_per_node == 4 and model.config.weighted is False
    assert summary["config"]["q"] == 4.0
    # skip-gram update flags: defaults are shared draws updated pair after pair
    assert model.config.window_update == "sequential"
    run(
        "-q", "graph", "train", karate, "--out", tmp_path / "dw", "--window-update", "batch",
        *SMALL,
    )  # fmt: skip
    assert DeepWalk.load(tmp_path / "dw").config.window_update == "batch"
    run(
        "-q", "graph", "train", karate, "--out", tmp_path / "ex", "--window-update", "exact",
        *SMALL,
    )  # fmt: skip
    assert DeepWalk.load(tmp_path / "ex").config.window_update == "exact"


def test_edgelist_and_directed(tmp_path):
    edges = tmp_path / "g.tsv"
    # a directed 4-cycle with weights
    edges.write_text("a\tb\t1.0\nb\tc\t2.0\nc\td\t1.5\nd\ta\t1.0\n", encoding="utf-8")
    out = tmp_path / "m"
    result = run("-q", "graph", "train", edges, "--directed", "--out", out, *SMALL, "--json")
    summary = json.loads(result.stdout)
    assert summary["directed"] and summary["weighted"]
    assert (summary["n_nodes"], summary["n_edges"]) == (4, 4)
    assert sorted(DeepWalk.load(out).embeddings_.keys) == ["a", "b", "c", "d"]


def test_mat_graph_and_mat_labels(karate, tmp_path):
    import scipy.io as scipy_io
    import scipy.sparse as sp

    from embedrec.data.graph import Graph

    g = Graph.from_adjlist(karate)
    # the .mat holds the club with rows = nodes 0..33 (key k -> row k - 1), like BlogCatalog
    order = np.argsort(np.asarray(g.keys))
    network = g.to_scipy()[order][:, order]
    group = np.zeros((34, 2))
    for key in range(1, 35):
        group[key - 1, 0 if key in MR_HI else 1] = 1
    mat = tmp_path / "club.mat"
    scipy_io.savemat(mat, {"network": sp.csc_matrix(network), "group": sp.csc_matrix(group)})
    out = tmp_path / "m"
    summary = json.loads(run("-q", "graph", "train", mat, "--out", out, *SMALL, "--json").stdout)
    assert (summary["n_nodes"], summary["n_edges"]) == (34, 78)
    result = run(
        "graph", "eval", out, "--labels", mat, "--train-fraction", 0.5, "--repeats", 3, "--json"
    )
    nc = json.loads(result.stdout)["node_classification"]
    assert nc["n_nodes"] == 34 and nc["n_labels"] == 2
    assert nc["fractions"]["0.5"]["micro_f1"]["mean"] >= 0.8


def test_eges_with_side_csv(karate, tmp_path):
    side = tmp_path / "side.csv"
    # one categorical field: a node's id modulo 3 (any categories will do for the CLI)
    rows = ["node,bucket"] + [f"{i},b{i % 3}" for i in range(34, 0, -1)]
    side.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "eges"
    result = run(
        "-q", "graph", "train", karate, "--method", "eges", "--side", side, "--out", out, *SMALL,
        "--json",
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["method"] == "eges" and summary["n_nodes"] == 34
    from embedrec.models.eges import EGES

    assert sorted(EGES.load(out).embeddings_.keys) == list(range(1, 35))


# ---------------------------------------------------------------------------------- errors
BAD_INPUT = {
    "missing graph": ("graph train {tmp}/nothing.txt --out {tmp}/m", ["nothing.txt", "not exist"]),
    "p for deepwalk": (
        "graph train {karate} --out {tmp}/m --p 2",
        ["--p", "deepwalk", "node2vec"],
    ),
    "bad config value": ("graph train {karate} --out {tmp}/m --dim 0", ["--dim 0"]),
    "eges without side": ("graph train {karate} --method eges --out {tmp}/m", ["--side"]),
    "side for deepwalk": (
        "graph train {karate} --side {tmp}/side.csv --out {tmp}/m",
        ["--side", "eges"],
    ),
    "side matching no node": (
        "graph train {karate} --method eges --side {tmp}/other.csv --out {tmp}/m",
        ["other.csv", "none of its 2 node ids", "--side-key"],
    ),
    "side with a bad key column": (
        "graph train {karate} --method eges --side {tmp}/side.csv --side-key id --out {tmp}/m",
        ["'id'", "columns: ['node', 'brand']"],
    ),
    "unknown config key": (
        "graph train {karate} --out {tmp}/m --config {tmp}/bad.toml",
        ["bad.toml", "walk_lenght"],
    ),
    "eges with sequential updates": (
        "graph train {karate} --method eges --window-update sequential --out {tmp}/m",
        ["--window-update 'sequential'", "'batch'"],
    ),
    "eval without a task": ("graph eval {model}", ["--labels", "--link-prediction"]),
    "eval of a missing model": ("graph eval {tmp}/nothing --labels {tmp}/x", ["nothing"]),
    "link prediction of plain vectors": (
        "graph eval {tmp}/vectors.txt --link-prediction {karate}",
        ["vectors.txt", "DeepWalk"],
    ),
    "too large test fraction": (
        "graph eval {model} --link-prediction {karate} --test-fraction 0.9",
        ["test_fraction=0.9", "test_fraction<=0.577"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_is_one_error_line_and_exit_2(case, karate, deepwalk_dir, tmp_path):
    (tmp_path / "side.csv").write_text("node,brand\n1,x\n2,y\n", encoding="utf-8")
    (tmp_path / "other.csv").write_text("node,brand\n101,x\n102,y\n", encoding="utf-8")
    (tmp_path / "bad.toml").write_text("walk_lenght = 5\n", encoding="utf-8")
    (tmp_path / "vectors.txt").write_text("2 2\n1 0.1 0.2\n2 0.3 0.4\n", encoding="utf-8")
    template, needles = BAD_INPUT[case]
    fill = {"tmp": tmp_path, "karate": karate, "model": deepwalk_dir[0]}
    args = [a.format(**fill) for a in template.split()]
    result = run("-q", *args, ok=False)  # -q: no INFO lines, so stderr is the error alone
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0]
    assert not (tmp_path / "m").exists()  # nothing was trained or saved


def test_export_and_similar_read_graph_models(deepwalk_dir, tmp_path):
    """`embedrec export` and `similar` load DeepWalk directories like Word2Vec ones."""
    from embedrec.vectors import Embeddings

    out, _ = deepwalk_dir
    target = tmp_path / "dw.txt"
    run("export", out, "--out", target)
    exported = Embeddings.load_word2vec_format(target)
    model = DeepWalk.load(out)
    assert exported.keys == [str(k) for k in model.embeddings_.keys]  # the text format has str
    np.testing.assert_allclose(exported.vectors, model.embeddings_.vectors, rtol=1e-5, atol=1e-6)
    res = json.loads(run("similar", out, "1", "-k", "3", "--json").stdout)
    assert res[0]["query"] == 1 and len(res[0]["neighbors"]) == 3
