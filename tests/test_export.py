"""Exports round-trip: word2vec (gensim), npy, Parquet (pyarrow), TensorBoard TSV; torch layers."""

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

from embedrec import Embeddings, Word2Vec, Word2VecConfig
from embedrec.cli.main import cli
from embedrec.export import export_embeddings, read_parquet, read_tensorboard_vectors


@pytest.fixture(params=["str", "int"])
def emb(request):
    rng = np.random.default_rng(0)
    keys = ["a", "b c", "d"] if request.param == "str" else [7, 3, 11]
    return Embeddings(keys, rng.normal(size=(3, 4)).astype(np.float32))


def test_word2vec_formats_load_in_gensim(emb, tmp_path):
    from gensim.models import KeyedVectors

    for binary in (False, True):
        path = tmp_path / f"v{int(binary)}.bin"
        if emb.key_type == "str" and any(" " in k for k in emb.keys):
            with pytest.raises(ValueError, match="whitespace"):
                export_embeddings(emb, path, "word2vec", binary=binary)
            continue
        export_embeddings(emb, path, "word2vec", binary=binary)
        kv = KeyedVectors.load_word2vec_format(str(path), binary=binary)
        assert kv.index_to_key == [str(k) for k in emb.keys]
        assert_allclose(kv.vectors, emb.vectors, rtol=1e-5, atol=1e-6)


def test_npy_round_trip(emb, tmp_path):
    export_embeddings(emb, tmp_path / "npy", "npy")
    back = Embeddings.load(tmp_path / "npy")
    assert back.keys == emb.keys
    assert np.array_equal(back.vectors, emb.vectors)


@pytest.mark.parametrize("layout", ["list", "columns"])
def test_parquet_round_trip(emb, tmp_path, layout):
    path = tmp_path / "e.parquet"
    export_embeddings(emb, path, "parquet", layout=layout, metadata={"count": [5, 2, 1]})
    table = pq.read_table(path)
    assert table.column("key").to_pylist() == emb.keys
    assert table.column("count").to_pylist() == [5, 2, 1]
    if layout == "list":
        assert table.schema.field("vector").type.list_size == 4
    else:
        assert [f"v{d}" for d in range(4)] == [n for n in table.column_names if n[0] == "v"]
    back = read_parquet(path)
    assert back.keys == emb.keys and back.metric == emb.metric
    assert np.array_equal(back.vectors, emb.vectors)


def test_tensorboard_projector_files(emb, tmp_path):
    export_embeddings(emb, tmp_path / "tb", "tensorboard")
    assert_allclose(read_tensorboard_vectors(tmp_path / "tb"), emb.vectors, rtol=1e-5)
    meta = (tmp_path / "tb" / "metadata.tsv").read_text().splitlines()
    assert meta == [str(k) for k in emb.keys]  # one column: no header
    export_embeddings(emb, tmp_path / "tb2", "tensorboard", metadata={"count": [5, 2, 1]})
    meta = (tmp_path / "tb2" / "metadata.tsv").read_text().splitlines()
    assert meta[0] == "key\tcount" and meta[1] == f"{emb.keys[0]}\t5"
    assert "vectors.tsv" in (tmp_path / "tb2" / "projector_config.pbtxt").read_text()


def test_bad_metadata(emb, tmp_path):
    with pytest.raises(ValueError, match="has 2 values for 3 keys"):
        export_embeddings(emb, tmp_path / "x.parquet", "parquet", metadata={"c": [1, 2]})
    with pytest.raises(ValueError, match="clashes"):
        export_embeddings(emb, tmp_path / "x.parquet", "parquet", metadata={"key": [1, 2, 3]})


def test_cli_export_every_format(tmp_path):
    model = Word2Vec(Word2VecConfig(dim=8, min_count=1, epochs=1, workers=1)).fit(
        [["a", "b", "c"], ["b", "c", "d"]] * 20, progress=False
    )
    model.save(tmp_path / "m")
    for fmt, out in [
        ("parquet", "e.parquet"),
        ("tensorboard", "tb"),
        ("npy", "npy"),
        ("word2vec", "v.txt"),
    ]:
        res = CliRunner().invoke(
            cli, ["export", str(tmp_path / "m"), "--format", fmt, "--out", str(tmp_path / out)]
        )
        assert res.exit_code == 0, res.output
    table = pq.read_table(tmp_path / "e.parquet")
    assert table.column("count").to_pylist() == model.vocab_.counts.tolist()
    assert read_parquet(tmp_path / "e.parquet").keys == model.embeddings_.keys


def test_torch_embedding_rows_and_unknown():
    torch = pytest.importorskip("torch")

    from embedrec.nn import to_torch_embedding

    emb = Embeddings(["a", "b", "c"], np.array([[1, 0], [0, 2], [3, 4]], np.float32))
    layer, index = to_torch_embedding(emb)
    out = layer(index(["c", "zzz", "a"]))
    assert_allclose(out.numpy(), [[3, 4], [4 / 3, 2], [1, 0]], rtol=1e-6)  # unknown = mean
    assert not layer.weight.requires_grad
    zeros, _ = to_torch_embedding(emb, unknown="zeros", normalize=True)
    assert_allclose(zeros(index(["b", "?"])).numpy(), [[0, 1], [0, 0]], atol=1e-7)
    bag, index = to_torch_embedding(emb, bag=True, unknown="zeros")
    inp, offsets = index.bag([["a", "b"], ["c"], ["a", "nope", "c"]])
    pooled = bag(inp, offsets).numpy()
    assert_allclose(pooled, [[0.5, 1], [3, 4], [4 / 3, 4 / 3]], rtol=1e-6)  # mean, unknown = 0
    trainable, index = to_torch_embedding(emb, freeze=False)
    loss = trainable(index(["a", "b"])).sum()
    loss.backward()
    assert torch.count_nonzero(trainable.weight.grad.sum(dim=1)).item() == 2
