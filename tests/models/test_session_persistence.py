"""Every session model: save -> load gives the same recommendations; corrupt saves are
refused with a clear error before use."""

import json

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.models import (
    SKNN,
    STAN,
    VSKNN,
    VSTAN,
    AssociationRules,
    SequentialRules,
    SessionEmbed,
    SessionEmbedConfig,
    SessionPop,
)
from embedrec.models.item2vec import Item2Vec, Item2VecConfig
from embedrec.models.session_base import as_sessions, recode


def embed():
    return SessionEmbed(
        SessionEmbedConfig(calibrate=False),
        embedder=Item2Vec(Item2VecConfig(dim=8, epochs=3, workers=1)),
    )


MAKERS = [SessionPop, AssociationRules, SequentialRules, SKNN, VSKNN, STAN, VSTAN, embed]


def sessions():
    rng = np.random.default_rng(0)
    users, items, times = [], [], []
    for s in range(150):
        for j in range(int(rng.integers(2, 6))):
            users.append(s)
            items.append(f"i{int(rng.integers(0, 25))}")
            times.append(s * 100.0 + j)
    return Interactions.from_arrays(users, items, times)


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: getattr(m, "__name__", "embed"))
def test_save_load_round_trip_answers_the_same(make, tmp_path):
    model = make().fit(sessions())
    model.save(tmp_path / "m")
    back = type(model).load(tmp_path / "m")
    assert back.item_keys_.tolist() == model.item_keys_.tolist()
    probe, _ = recode(as_sessions([["i1", "i2"], ["i3"], ["i4", "i4", "i5"]]), model.item_keys_)
    np.testing.assert_array_equal(back.recommend_next(probe, 5), model.recommend_next(probe, 5))
    a, b = model.recommend(["i1", "i2"], k=4), back.recommend(["i1", "i2"], k=4)
    assert a.keys.tolist() == b.keys.tolist()
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)


def test_another_class_and_forged_arrays_are_refused(tmp_path):
    SequentialRules().fit(sessions()).save(tmp_path / "sr")
    with pytest.raises(ValueError, match="SequentialRules"):
        AssociationRules.load(tmp_path / "sr")
    VSKNN().fit(sessions()).save(tmp_path / "knn")
    gen = sorted((tmp_path / "knn").glob("gen-*"))[-1]
    # point an item at a session that does not exist: the kernels must never see it
    arr = np.load(gen / "index_item_sessions.npy")
    arr[0] = 10**6
    np.save(gen / "index_item_sessions.npy", arr)
    with pytest.raises(ValueError, match="SHA-256 checksum does not match"):
        VSKNN.load(tmp_path / "knn")
    # without the checksum table (an older or hand-made save) the structure check catches it
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest.pop("files")
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="item -> sessions is not a valid sparse structure"):
        VSKNN.load(tmp_path / "knn")


def test_a_session_embed_saved_before_the_neighbour_votes_still_loads(tmp_path):
    # saves from before the embedding session-kNN have no knn_*.npy and do not list them;
    # without a re-ranker the votes play no part, so the answers are the same
    model = embed().fit(sessions())
    model.save(tmp_path / "m")
    gen = sorted((tmp_path / "m").glob("gen-*"))[-1]
    manifest = json.loads((gen / "manifest.json").read_text())
    for name in ("knn_indices", "knn_indptr"):
        (gen / f"{name}.npy").unlink()
        manifest["arrays"].remove(name)
        manifest["files"].pop(f"{name}.npy")
    (gen / "manifest.json").write_text(json.dumps(manifest))
    back = SessionEmbed.load(tmp_path / "m")
    a, b = model.recommend(["i1", "i2"], k=4), back.recommend(["i1", "i2"], k=4)
    assert a.keys.tolist() == b.keys.tolist()
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-6)
    # a save that lists them but lost the files is incomplete, and says so
    manifest["arrays"].append("knn_indices")
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"knn_indices\.npy is missing"):
        SessionEmbed.load(tmp_path / "m")


def test_unfitted_models_cannot_save(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        SessionPop().save(tmp_path / "x")


def test_the_registry_loads_session_models_and_refuses_vectors_of_baselines(tmp_path):
    from embedrec.models.registry import load_embeddings, load_model

    SessionPop().fit(sessions()).save(tmp_path / "spop")
    assert type(load_model(tmp_path / "spop")).__name__ == "SessionPop"
    with pytest.raises(ValueError, match="session baseline without item vectors"):
        load_embeddings(tmp_path / "spop")
    embed().fit(sessions()).save(tmp_path / "emb")
    assert (
        load_embeddings(tmp_path / "emb").keys == load_model(tmp_path / "emb").item_keys_.tolist()
    )
