"""SessionEmbed's embedders beyond the default Item2Vec: graph models on the session graph
(Node2Vec, EGES with side information) and Airbnb's extensions handed to Item2Vec."""

import numpy as np
import pytest

from embedrec.data.interactions import Interactions
from embedrec.data.sessions import session_split
from embedrec.data.synthetic import session_log
from embedrec.eval.sessions import evaluate_sessions
from embedrec.models import (
    EGES,
    DeepWalk,
    DeepWalkConfig,
    EGESConfig,
    Item2Vec,
    Item2VecConfig,
    Node2Vec,
    Node2VecConfig,
)
from embedrec.models.session_embed import SessionEmbed, SessionEmbedConfig
from embedrec.models.session_rules import SessionPop
from tests.models.test_item2vec_airbnb import converting_sessions

FIXED = SessionEmbedConfig(calibrate=False)


def _split():
    log = Interactions.from_arrays(*session_log(3000, 300, seed=4))
    return session_split(log, test_days=None, test_fraction=0.2)


def test_node2vec_on_the_session_graph_learns_the_planted_successors():
    # the generator's next clicks follow each item's fixed successors; the same mixture over
    # Node2Vec vectors of the session graph must beat re-click popularity (S-POP), which
    # knows nothing of them
    split = _split()
    n2v = Node2Vec(Node2VecConfig(dim=16, walks_per_node=10, walk_length=20, workers=1, p=1, q=0.5))
    model = SessionEmbed(FIXED, embedder=n2v).fit(split.train)
    ours = evaluate_sessions(model, split, ks=(20,)).metrics
    spop = evaluate_sessions(SessionPop().fit(split.train), split, ks=(20,)).metrics
    assert ours["HR@20"] > spop["HR@20"] + 0.05
    assert type(model.embedder_) is Node2Vec


def test_eges_gets_the_side_information_of_the_session_items():
    sessions = [["a", "b", "c"], ["b", "c", "d"], ["c", "d", "a"]] * 10
    category = {"a": "x", "b": "x", "c": "y"}  # d has none: a missing value
    eges = EGES(EGESConfig(dim=8, walks_per_node=4, walk_length=10, workers=1))
    model = SessionEmbed(FIXED, embedder=eges).fit(sessions, side={"category": category})
    fitted = model.embedder_
    assert fitted.field_names_ == ["category"]
    assert sorted(fitted.side_values_["category"]) == ["x", "y"]
    assert model.in_.shape == (4, 8)


def _explore_rank_of_targets(model):
    ranks = []
    for k in range(4):
        history = [f"i{k}_0", f"i{k}_1", f"i{k}_2"]
        keys = model.recommend(history, k=len(model.item_keys_)).keys.tolist()
        ranks.append(keys.index(f"t{k}"))
    return np.array(ranks)


def _i2v():
    return Item2Vec(Item2VecConfig(dim=16, epochs=20, workers=1, seed=3))


def test_global_context_reaches_the_item2vec_embedder():
    seqs, glob = converting_sessions()
    plain = SessionEmbed(FIXED, embedder=_i2v()).fit(seqs)
    as_list = SessionEmbed(FIXED, embedder=_i2v()).fit(seqs, global_context=glob)
    as_map = SessionEmbed(FIXED, embedder=_i2v()).fit(seqs, global_context=dict(enumerate(glob)))
    np.testing.assert_array_equal(as_list.in_, as_map.in_)
    assert (_explore_rank_of_targets(as_list) < 3).all()
    assert not (_explore_rank_of_targets(plain) < 3).all()


def test_calibration_fits_with_the_extensions_too():
    # calibration's probe fits the embedder on the earlier sessions: it must look the
    # global context up by session key, whatever subset it fits on
    seqs, glob = converting_sessions(n=1500)  # 150 held-out sessions: calibration runs
    groups = {f"i{k}_{j}": k for k in range(4) for j in range(10)}
    model = SessionEmbed(SessionEmbedConfig(rerank=False), embedder=_i2v())
    model.fit(seqs, global_context=glob, groups=groups)
    assert set(model.scoring_) == {"half_life", "temperature", "transition_weight"}
    assert (_explore_rank_of_targets(model) < 3).all()


def test_extensions_the_embedder_does_not_take_are_refused():
    seqs, glob = converting_sessions()
    dw = DeepWalk(DeepWalkConfig(dim=8, workers=1))
    with pytest.raises(ValueError, match=r"Item2Vec's \(skip-gram\) extensions"):
        SessionEmbed(FIXED, embedder=dw).fit(seqs, global_context=glob)
    with pytest.raises(ValueError, match="for an EGES embedder"):
        SessionEmbed(FIXED).fit(seqs, side={"category": {}})
    with pytest.raises(ValueError, match="global_context has 3 entries for 800 sessions"):
        SessionEmbed(FIXED).fit(seqs, global_context=glob[:3])
