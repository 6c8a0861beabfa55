"""Shared query surface of every model that ends in an :class:`~embedrec.vectors.Embeddings`."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from .._io import make_manifest, read_manifest, read_npy, write_json, write_npy
from ..artifacts import check_savable, publish_artifact, verify_artifact
from ..data.vocab import Vocab
from ..vectors import Embeddings, Neighbors, read_keys_vectors, write_keys_vectors


class EmbeddingModel:
    """Mixin: ``most_similar`` and ``recommend`` over ``self.embeddings_`` (set by ``fit``)."""

    embeddings_: Embeddings

    def _fitted(self) -> Embeddings:
        emb: Embeddings | None = getattr(self, "embeddings_", None)
        if emb is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted yet; call .fit(corpus) first")
        return emb

    def most_similar(
        self,
        key: Any,
        k: int = 10,
        *,
        missing: Literal["raise", "skip"] = "raise",
        min_count: int | None = None,
    ) -> Neighbors:
        """Nearest keys to ``key`` (or to each key of a list).

        ``min_count``: only keys seen at least this often in training are candidates. The
        vectors of keys seen once or twice are mostly their few contexts, so with every key
        kept (Item2Vec's ``min_count=1``) they crowd the neighbours of popular keys; a floor
        of 5 to 10 gives neighbours that make sense without dropping the keys from training.
        See :meth:`embedrec.vectors.Embeddings.most_similar`.
        """
        emb = self._fitted()
        restrict = None
        if min_count is not None:
            vocab = getattr(self, "vocab_", None)
            if vocab is None:
                raise ValueError(f"{type(self).__name__} has no key counts; drop min_count")
            restrict = vocab.n_at_least(min_count)
        return emb.most_similar(key, k=k, missing=missing, restrict_vocab=restrict)

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


@dataclass(frozen=True)
class ModelDir:
    """What :func:`read_model_dir` found in a model directory."""

    manifest: dict[str, Any]
    config: Any
    embeddings: Embeddings
    vocab: Vocab
    #: the generation directory everything was read from; read further files from it
    directory: Path


def write_model_dir(
    path: str | os.PathLike[str],
    class_name: str,
    *,
    config: Any,
    embeddings: Embeddings,
    counts: npt.NDArray[np.int64],
    arrays: dict[str, npt.NDArray[Any]] | None = None,
    **fields: Any,
) -> None:
    """Atomically write a trained model: manifest.json (format version, class, config,
    metric, ``fields``), vectors.npy, keys.json, counts.npy and ``arrays`` (name -> array),
    published as a new generation of ``path`` (:func:`embedrec.artifacts.publish_artifact`)."""
    check_savable(np.asarray(embeddings.vectors), "vectors")
    for name, arr in (arrays or {}).items():
        check_savable(np.asarray(arr), name)
    with publish_artifact(path) as tmp:
        write_keys_vectors(tmp, embeddings.keys, embeddings.vectors)
        write_npy(tmp / "counts.npy", counts)
        for name, arr in (arrays or {}).items():
            write_npy(tmp / f"{name}.npy", arr)
        write_json(
            tmp / "manifest.json",
            make_manifest(
                class_name,
                config=config.to_dict(),
                metric=embeddings.metric,
                dim=embeddings.dim,
                n_keys=len(embeddings),
                **fields,
            ),
        )


def read_model_dir(
    path: str | os.PathLike[str],
    class_name: str,
    config_cls: Any,
    required: Collection[str] | Callable[[Any], Collection[str]] = (),
) -> ModelDir:
    """Read and check one generation directory written by :func:`write_model_dir`.

    ``path`` must be a flat directory: call this inside
    :func:`embedrec.artifacts.load_consistent`, which resolves a store to its live generation.
    ``required`` names the files the caller reads besides vectors.npy, keys.json and
    counts.npy (or computes them from the config); all are checked before anything is read
    (:func:`embedrec.artifacts.verify_artifact`).
    """
    manifest = read_manifest(path, class_name)
    path = Path(path)
    try:
        config = config_cls.from_dict(manifest["config"])
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}/manifest.json has no valid config ({exc}); re-save") from exc
    extra = required(config) if callable(required) else required
    verify_artifact(path, manifest, ("keys.json", "vectors.npy", "counts.npy", *extra))
    keys, vectors = read_keys_vectors(path, verify=False)
    counts = read_npy(path / "counts.npy")
    if counts.shape != (len(keys),):
        raise ValueError(
            f"{path}: counts.npy has shape {counts.shape} but there are {len(keys)} keys; "
            "the directory is corrupt, re-save the model"
        )
    emb = Embeddings(keys, vectors, metric=manifest.get("metric", "cosine"))
    return ModelDir(manifest, config, emb, Vocab(list(keys), counts), path)
