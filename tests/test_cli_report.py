"""`embedrec plot loss|map|sweep|metrics` and `embedrec report`, fed by the real output of
`item2vec train`, `index sweep --json` and `eval --json` on a planted log."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from click.testing import CliRunner

from embedrec.cli.main import cli
from embedrec.models import Item2Vec

COLS = ["--user-col", "user", "--item-col", "item", "--time-col", "ts"]


def run(*args, ok=True):
    result = CliRunner().invoke(cli, ["-q", *(str(a) for a in args)])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A planted log (user u walks items of cluster u % 4), a side file naming each item's
    cluster, and an Item2Vec trained by the CLI with the leave-last-out holdout."""
    d = tmp_path_factory.mktemp("cli-report")
    rng = np.random.default_rng(0)
    rows = ["user,item,ts"]
    for u in range(160):
        start = int(rng.integers(0, 8))
        rows += [
            f"{u},{100 * (u % 4) + j},{1000 + 10 * t}"
            for t, j in enumerate(range(start, start + 6))
        ]
    (d / "log.csv").write_text("\n".join(rows) + "\n")
    (d / "side.tsv").write_text(
        "item\tcluster\n" + "".join(f"{100 * c + j}\tc{c}\n" for c in range(4) for j in range(14))
    )
    run(
        "-q", "item2vec", "train", d / "log.csv", *COLS, "--dim", "8", "--epochs", "3",
        "--workers", "1", "--holdout", "leave-last-out", "--out", d / "i2v",
    )  # fmt: skip
    return d


def test_plot_loss_draws_the_saved_history(work, tmp_path):
    res = run("plot", "loss", work / "i2v", "--out", tmp_path / "loss.png")
    assert f"wrote {tmp_path / 'loss.png'} (640x400 PNG)" in res.output
    assert png_size(tmp_path / "loss.png") == (640, 400)
    assert len(Item2Vec.load(work / "i2v").loss_history_) == 3


def test_plot_map_colours_by_a_side_file(work, tmp_path):
    out = tmp_path / "map.png"
    res = run(
        "plot", "map", work / "i2v", "--side", work / "side.tsv", "--key-col", "item",
        "--label-col", "cluster", "--out", out,
    )  # fmt: skip
    assert "(860x500 PNG)" in res.output and png_size(out) == (860, 500)


def test_plot_map_needs_both_side_columns(work, tmp_path):
    res = run(
        "plot", "map", work / "i2v", "--side", work / "side.tsv", "--key-col", "item",
        "--out", tmp_path / "m.png", ok=False,
    )  # fmt: skip
    assert res.exit_code == 2 and "needs --key-col and --label-col" in res.output
    assert not (tmp_path / "m.png").exists()


def test_plot_sweep_reads_index_sweep_json(work, tmp_path):
    pytest.importorskip("faiss")
    files = []
    for kind, values in (("exact", []), ("hnsw", ["--values", "ef_search=4,16,64"])):
        res = run(
            "-q", "index", "sweep", work / "i2v", "--kind", kind, "--queries", "50", *values,
            "--json",
        )  # fmt: skip
        files.append(tmp_path / f"{kind}.json")
        files[-1].write_text(res.output)
    res = run("plot", "sweep", *files, "--out", tmp_path / "sweep.png")
    assert "(640x440 PNG)" in res.output and png_size(tmp_path / "sweep.png") == (640, 440)


def test_plot_metrics_reads_eval_json(work, tmp_path):
    res = run(
        "-q", "eval", work / "i2v", work / "log.csv", *COLS, "-k", "1", "-k", "5", "-k", "10",
        "--json",
    )  # fmt: skip
    (tmp_path / "eval.json").write_text(res.output)
    res = run("plot", "metrics", tmp_path / "eval.json", "--out", tmp_path / "m.png")
    assert "(850x380 PNG)" in res.output
    res = run(
        "plot", "metrics", tmp_path / "eval.json", "--metric", "MRR", "--out", tmp_path / "mrr.png"
    )
    assert "(450x380 PNG)" in res.output


def test_plot_metrics_refuses_other_json(tmp_path):
    (tmp_path / "x.json").write_text('{"results": {}}')
    (tmp_path / "y.json").write_text("not json")
    for name, message in (("x.json", "holds no results"), ("y.json", "is not JSON")):
        res = run("plot", "metrics", tmp_path / name, "--out", tmp_path / "m.png", ok=False)
        assert res.exit_code == 2 and message in res.output


def test_report_with_log_and_side(work, tmp_path):
    out = tmp_path / "r.html"
    res = run(
        "report", work / "i2v", "--out", out, "--interactions", work / "log.csv", *COLS,
        "-k", "1", "-k", "10", "--side", work / "side.tsv", "--key-col", "item",
        "--label-col", "cluster",
    )  # fmt: skip
    assert f"wrote {out}" in res.output
    page = out.read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3
    assert "HR@10" in page and "popularity" in page
    # the side file labels every item of the 4 clusters
    n = len(Item2Vec.load(work / "i2v").embeddings_)
    assert f"{n} of {n} items have a label" in page


def test_report_flags_that_need_a_log(work, tmp_path):
    res = run("report", work / "i2v", "--out", tmp_path / "r.html", "--user-col", "u", ok=False)
    assert res.exit_code == 2 and "describe --interactions" in res.output
    res = run(
        "report", work / "i2v", "--out", tmp_path / "r.html", "--interactions", work / "log.csv",
        ok=False,
    )  # fmt: skip
    assert res.exit_code == 2 and "needs --user-col and --item-col" in res.output
