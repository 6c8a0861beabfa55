"""Shared query surface of every model that ends in an :class:`~embedrec.vectors.Embeddings`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal

from ..vectors import Embeddings, Neighbors


class EmbeddingModel:
    """Mixin: ``most_similar`` and ``recommend`` over ``self.embeddings_`` (set by ``fit``)."""

    embeddings_: Embeddings

    def _fitted(self) -> Embeddings:
        emb: Embeddings | None = getattr(self, "embeddings_", None)
        if emb is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call .fit(corpus) first")
        return emb

    def most_similar(
        self, key: Any, k: int = 10, *, missing: Literal["raise", "skip"] = "raise"
    ) -> Neighbors:
        """Nearest keys to ``key`` (or to each key of a list).

        See :meth:`embedrec.vectors.Embeddings.most_similar`.
        """
        return self._fitted().most_similar(key, k=k, missing=missing)

    def recommend(
        self, history: Sequence[Hashable], k: int = 10, *, exclude_seen: bool = True
    ) -> Neighbors:
        """Keys nearest to the mean of the unit-normalised vectors of ``history``.

        Unknown history keys are ignored; ``KeyError`` if none is known. With
        ``exclude_seen`` the history keys never appear in the answer.
        """
        emb = self._fitted()
        known = [h for h in history if h in emb]
        if not known:
            raise KeyError(f"none of the history keys is in the vocabulary: {list(history)[:10]}")
        res = emb.most_similar([tuple(known)], k=k, exclude_query=exclude_seen)
        return Neighbors(res.keys[0], res.scores[0])
