"""SessionEnsemble: reciprocal rank fusion by hand, its members, its saves."""

import json

import numpy as np
import pytest

from embedrec.models import SequentialRules, SessionEmbed, SessionEnsemble, SessionPop
from embedrec.models.registry import load_model
from embedrec.models.session_base import as_sessions, recode
from embedrec.models.session_ensemble import rrf_scores

SESSIONS = [["a", "b", "c"], ["a", "b", "d"], ["b", "c", "a"], ["d", "c"]] * 5


def test_rrf_by_hand():
    # member 1 ranks 2, 0, 1, 3; member 2 ranks 0, 3, 2, 1 (k = 1, depth 2: ranks 1 and 2
    # get 1/2 and 1/3): item 0 1/3 + 1/2, item 2 1/2, item 3 1/3, item 1 nothing
    s1 = np.array([[0.5, 0.2, 0.9, 0.1]], dtype=np.float32)
    s2 = np.array([[0.9, 0.1, 0.2, 0.5]], dtype=np.float32)
    out = rrf_scores([s1, s2], k=1.0, depth=2)
    floor = 1 / (1 + 2 + 1)
    np.testing.assert_allclose(
        out[0, [0, 2, 3]], [1 / 3 + 1 / 2 + floor, 1 / 2 + floor, 1 / 3 + floor], rtol=1e-6
    )
    # the item no list credited keeps the first member's order, below every credited one
    assert out[0, 1] < out[0, 3]
    assert np.argsort(-out[0]).tolist() == [0, 2, 3, 1]
    # tails ordered by the first member: with depth 1 only items 2 and 0 are credited
    tail = rrf_scores([s1, s2], k=1.0, depth=1)[0]
    assert np.argsort(-tail).tolist() == [0, 2, 1, 3]
    with pytest.raises(ValueError, match="shapes"):
        rrf_scores([s1, s2[:, :3]])


def test_the_ensemble_fuses_what_its_members_score_alone():
    ens = SessionEnsemble([SequentialRules(), SessionPop()], k=10.0).fit(SESSIONS)
    alone = [SequentialRules().fit(SESSIONS), SessionPop().fit(SESSIONS)]
    prefixes, _ = recode(as_sessions([["a", "b"], ["d"], ["c", "a", "c"]]), ens.item_keys_)
    want = rrf_scores([m.score_prefixes(prefixes) for m in alone], k=10.0)
    np.testing.assert_array_equal(ens.score_prefixes(prefixes), want)
    # after d, by hand (k 10): SR ranks c (its only rule), then a, b, d (ties: lower code);
    # S-POP ranks d (in the session), then a, b, c (15 clicks each, lower code first). RRF:
    # a 1/12 + 1/12, c 1/11 + 1/14, d 1/14 + 1/11 (ties c: lower code), b 1/13 + 1/13
    assert ens.recommend(["d"], k=4).keys.tolist() == ["a", "c", "d", "b"]


def test_a_save_scores_as_the_fitted_model_and_bad_manifests_are_refused(tmp_path):
    ens = SessionEnsemble([SequentialRules(), SessionPop()]).fit(SESSIONS)
    ens.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    assert isinstance(back, SessionEnsemble)
    assert [type(m).__name__ for m in back.members] == ["SequentialRules", "SessionPop"]
    for history in (["a"], ["a", "b", "c"], ["d", "d"]):
        np.testing.assert_array_equal(
            back.score_next(history, list("abcd")), ens.score_next(history, list("abcd"))
        )
    # a manifest naming another class as a member is refused, nothing instantiated
    arrays, facts = ens._state()
    assert json.loads(json.dumps(facts)) == facts  # the manifest's state is plain JSON
    facts["members"][0]["class"] = "os.system"
    other = SessionEnsemble([SequentialRules()])
    other.item_keys_, other.item_counts_ = ens.item_keys_, ens.item_counts_
    with pytest.raises(ValueError, match=r"member 0 is 'os\.system'"):
        other._set_state(arrays, facts)
    arrays, facts = ens._state()
    del arrays[sorted(a for a in arrays if a.startswith("m1."))[0]]
    with pytest.raises(ValueError, match="member 1's arrays"):
        other._set_state(arrays, facts)
    with pytest.raises(ValueError, match="no member has"):
        SessionEnsemble._array_names({"item_counts", "m0.rules", "x.evil"})


def test_members_and_k_are_checked_and_the_default_pairs_two_embedders():
    from embedrec.models import DeepWalk, Item2Vec

    with pytest.raises(ValueError, match="cannot be a SessionEnsemble member"):
        SessionEnsemble([Item2Vec()])
    with pytest.raises(ValueError, match="at least one member"):
        SessionEnsemble([])
    with pytest.raises(ValueError, match="k=-1"):
        SessionEnsemble([SessionPop()], k=-1)
    default = SessionEnsemble()
    assert [type(m).__name__ for m in default.members] == ["SessionEmbed", "SessionEmbed"]
    first, second = default.members
    assert isinstance(first, SessionEmbed) and first.embedder is None  # Item2Vec
    assert isinstance(second.embedder, DeepWalk)
