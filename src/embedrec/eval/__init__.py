"""Evaluation: offline recommendation metrics and splits; graph-embedding benchmarks.

Word-embedding benchmarks (analogies, word-pair similarity) are methods of
:class:`embedrec.vectors.Embeddings`: :meth:`~embedrec.vectors.Embeddings.evaluate_analogies` and
:meth:`~embedrec.vectors.Embeddings.evaluate_pairs`.
"""

from .baselines import Popularity, RandomScorer
from .evaluate import EvalResult, Scorer, compare, evaluate
from .graph import link_prediction, node_classification
from .metrics import coverage, ranking_metrics, recall_plain
from .sessions import (
    ScorerSessions,
    SessionEvalResult,
    as_session_recommender,
    compare_sessions,
    evaluate_sessions,
    paired_difference,
)
from .split import Split, leave_last_out, random_holdout, temporal_split

__all__ = [
    "EvalResult",
    "Popularity",
    "RandomScorer",
    "Scorer",
    "ScorerSessions",
    "SessionEvalResult",
    "Split",
    "as_session_recommender",
    "compare",
    "compare_sessions",
    "coverage",
    "evaluate",
    "evaluate_sessions",
    "leave_last_out",
    "link_prediction",
    "node_classification",
    "paired_difference",
    "random_holdout",
    "ranking_metrics",
    "recall_plain",
    "temporal_split",
]
