"""``warmup()``: compile (or load from the numba cache) every training kernel ahead of time.

It fits tiny models of every kind, so it sits above all of them (``embedrec warmup`` and
services call it; no model module imports it).
"""

from __future__ import annotations

import time
from typing import get_args

from ..data.graph import Graph
from ._engine import WindowUpdate
from .eges import EGES, EGESConfig
from .walks import DeepWalk, DeepWalkConfig, Node2Vec, Node2VecConfig
from .word2vec import Arch, Loss, Word2Vec, Word2VecConfig


def warmup() -> float:
    """Compile (or load from cache) every training kernel; returns the seconds it took."""
    t0 = time.perf_counter()
    sentences = [["a", "b", "c", "d"], ["b", "c", "d", "a"]] * 4
    for arch in get_args(Arch):
        for loss in get_args(Loss):
            updates = (None,) if arch == "cbow" else get_args(WindowUpdate)
            for update in updates:
                cfg = Word2VecConfig(
                    arch=arch,
                    loss=loss,
                    dim=4,
                    min_count=1,
                    epochs=1,
                    workers=1,
                    window_update=update,
                )
                Word2Vec(cfg).fit(sentences, progress=False)
    # graph walks (every sampler) and EGES
    graph = Graph.from_edges([0, 1, 2, 3], [1, 2, 3, 0], weights=[1.0, 2.0, 1.0, 2.0])
    for weighted in (True, False):
        for update in get_args(WindowUpdate):
            DeepWalk(
                DeepWalkConfig(
                    dim=4,
                    walks_per_node=1,
                    walk_length=4,
                    window=2,
                    workers=1,
                    weighted=weighted,
                    window_update=update,
                )
            ).fit(graph, progress=False)
        for sampler in ("alias", "otf"):
            n2v = Node2VecConfig(
                p=0.5,
                q=2.0,
                sampler=sampler,
                dim=4,
                walks_per_node=1,
                walk_length=4,
                window=2,
                workers=1,
                weighted=weighted,
            )
            Node2Vec(n2v).fit(graph, progress=False)
    for mode in ("eges", "ges"):
        eges = EGESConfig(mode=mode, dim=4, walks_per_node=1, walk_length=4, window=2, workers=1)
        EGES(eges).fit(graph, {"c": ["x", "y", "x", "y"]}, progress=False)
    return time.perf_counter() - t0
