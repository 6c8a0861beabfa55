"""The one model registry: a manifest's ``class`` name -> its loader, and the vectors of any
model directory.

Every CLI command that reads vectors (``similar``, ``export``, ``index build``, ``graph eval``,
``word2vec eval``, ...) and the service (:mod:`embedrec.service.artifact`) load model directories
through here, so each accepts every model directory: Word2Vec, Item2Vec, DeepWalk, Node2Vec,
EGES, TwoTower (its item vectors, read with NumPy alone: no torch), Embeddings, any other
embedrec directory that stores ``keys.json`` + ``vectors.npy``, and word2vec-format files.

Model directories are generation stores (:mod:`embedrec.artifacts`): :func:`load_model` and
:func:`load_embeddings` read one whole generation (through
:func:`~embedrec.artifacts.load_consistent`); :func:`read_model` and :func:`read_embeddings`
read one generation directory that the caller resolved, so that a caller reading more files
(an index, counts) takes all of them from the same generation.

A new model plugs in with :func:`register`.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> from embedrec import Embeddings
>>> d = Path(tempfile.mkdtemp()) / "emb"
>>> Embeddings(["a", "b"], [[1.0, 0.0], [0.0, 1.0]]).save(d)
>>> model_class(d), load_embeddings(d).keys
('Embeddings', ['a', 'b'])
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._io import MANIFEST, read_manifest, read_npy
from ..artifacts import has_file, load_consistent
from ..vectors import KEYS_FILE, VECTORS_FILE, Embeddings, UnicodeErrors, read_keys_vectors

__all__ = [
    "ModelType",
    "load_embeddings",
    "load_model",
    "model_class",
    "read_counts",
    "read_embeddings",
    "read_model",
    "read_output_embeddings",
    "register",
    "registered",
]


@dataclass(frozen=True)
class ModelType:
    """How to load one model class from a generation directory.

    Attributes
    ----------
    name : str
        The ``class`` its ``manifest.json`` names (``"Item2Vec"``).
    load : callable ``Path -> model``
        The model object of one generation directory.
    embeddings : callable ``Path -> Embeddings``
        Its vectors (the item vectors of a two-tower model), read without optional extras
        where possible.
    """

    name: str
    load: Callable[[Path], Any]
    embeddings: Callable[[Path], Embeddings]


_REGISTRY: dict[str, ModelType] = {}


def register(
    name: str,
    load: Callable[[Path], Any],
    embeddings: Callable[[Path], Embeddings] | None = None,
) -> ModelType:
    """Register (or replace) the loader of manifest class ``name``.

    Parameters
    ----------
    name : str
        The ``class`` the model's ``manifest.json`` names.
    load : callable ``Path -> model``
        Loads the model object from one generation directory.
    embeddings : callable ``Path -> Embeddings``, optional
        Reads its vectors; by default ``load(directory).embeddings_``.

    Returns
    -------
    ModelType
    """

    def of_model(directory: Path) -> Embeddings:
        emb: Embeddings = load(directory).embeddings_
        return emb

    entry = ModelType(name, load, embeddings or of_model)
    _REGISTRY[name] = entry
    return entry


def registered() -> tuple[str, ...]:
    """The registered manifest class names, in registration order."""
    return tuple(_REGISTRY)


# ---------------------------------------------------------------------------------- loaders
def _word2vec(directory: Path) -> Any:
    from .word2vec import Word2Vec

    return Word2Vec.load(directory)


def _item2vec(directory: Path) -> Any:
    from .item2vec import Item2Vec

    return Item2Vec.load(directory)


def _deepwalk(directory: Path) -> Any:
    from .walks import DeepWalk

    return DeepWalk.load(directory)


def _node2vec(directory: Path) -> Any:
    from .walks import Node2Vec

    return Node2Vec.load(directory)


def _eges(directory: Path) -> Any:
    from .eges import EGES

    return EGES.load(directory)


def _two_tower(directory: Path) -> Any:
    from .two_tower import require_torch

    require_torch("two-tower models")
    from .two_tower.model import TwoTower

    return TwoTower.load(directory)


def _keys_vectors(directory: Path) -> Embeddings:
    """``keys.json`` + ``vectors.npy`` of a model directory, with its manifest's metric."""
    manifest = read_manifest(directory)
    keys, vectors = read_keys_vectors(directory)
    metric = manifest.get("metric", "cosine")
    if metric not in ("cosine", "dot"):
        raise ValueError(
            f"{directory}/{MANIFEST} has metric={metric!r}; expected 'cosine' or 'dot'"
        )
    return Embeddings(keys, vectors, metric=metric)


register("Word2Vec", _word2vec)
register("Item2Vec", _item2vec)
register("DeepWalk", _deepwalk)
register("Node2Vec", _node2vec)
register("EGES", _eges)
# the item vectors of a two-tower model are plain keys + vectors: numpy reads them, no torch
register("TwoTower", _two_tower, _keys_vectors)
register("Embeddings", Embeddings.load, Embeddings.load)


def _session_loader(name: str) -> Callable[[Path], Any]:
    def load(directory: Path) -> Any:
        from . import session_embed, session_knn, session_rules

        for module in (session_rules, session_knn, session_embed):
            cls = getattr(module, name, None)
            if cls is not None:
                return cls._load_generation(directory)
        raise ValueError(f"no session model class {name!r}")  # pragma: no cover

    return load


#: the session recommenders (:mod:`embedrec.models.session_base`)
SESSION_CLASSES = (
    "SessionPop",
    "AssociationRules",
    "SequentialRules",
    "SKNN",
    "VSKNN",
    "STAN",
    "VSTAN",
    "SessionEmbed",
)
#: recommenders without item vectors: ``load_model`` reads them, vector commands refuse them
_RECOMMENDERS_ONLY: dict[str, Callable[[Path], Any]] = {
    name: _session_loader(name) for name in SESSION_CLASSES if name != "SessionEmbed"
}
register("SessionEmbed", _session_loader("SessionEmbed"))


# ---------------------------------------------------------------------------------- lookups
def model_class(path: str | os.PathLike[str]) -> str:
    """The ``class`` that the ``manifest.json`` of a model directory (its live generation)
    names.

    Raises
    ------
    FileNotFoundError, NotADirectoryError
        ``path`` is missing or a file.
    ValueError
        No or a corrupt manifest.
    """
    return str(read_manifest(path).get("class"))


def _entry(directory: Path) -> ModelType | None:
    return _REGISTRY.get(model_class(directory))


def read_model(directory: str | os.PathLike[str]) -> Any:
    """The model object of one generation directory, by its manifest's class.

    Raises
    ------
    ValueError
        A class the registry does not know, or a corrupt directory.
    ImportError
        A two-tower model without the ``torch`` extra.
    """
    directory = Path(directory)
    entry = _entry(directory)
    if entry is None:
        kind = model_class(directory)
        if kind in _RECOMMENDERS_ONLY:
            return _RECOMMENDERS_ONLY[kind](directory)
        raise ValueError(
            f"{directory} holds a {kind!r}, which is not a model class "
            f"embedrec can load; it loads {_names()}"
        )
    return entry.load(directory)


def read_embeddings(directory: str | os.PathLike[str]) -> Embeddings:
    """The vectors of one generation directory: the registered loader of its manifest's class,
    or, for another class, its ``keys.json`` + ``vectors.npy``.

    Raises
    ------
    ValueError
        A directory that holds no vectors embedrec can read, or a corrupt one.
    """
    directory = Path(directory)
    entry = _entry(directory)
    if entry is not None:
        return entry.embeddings(directory)
    if (directory / KEYS_FILE).is_file() and (directory / VECTORS_FILE).is_file():
        return _keys_vectors(directory)
    kind = model_class(directory)
    if kind in _RECOMMENDERS_ONLY:
        raise ValueError(
            f"{directory} holds a {kind}, a session baseline without item vectors; "
            "`embedrec recommend` reads it, vector commands need a model with vectors "
            "(e.g. a SessionEmbed)"
        )
    raise ValueError(
        f"{directory} holds a {model_class(directory)!r} without {KEYS_FILE} and "
        f"{VECTORS_FILE}; embedrec reads the vectors of {_names()} directories, of any "
        "embedrec directory with keys and vectors, and of word2vec-format files"
    )


def read_output_embeddings(directory: str | os.PathLike[str]) -> Embeddings:
    """The output (context) vectors of one generation directory, keyed like its vectors.

    Item2Vec ranks next items by ``user . output_vector`` (``scoring="output"``), and
    SessionEmbed explores with them, so a system that re-implements the scoring (a ranking
    feature, another serving stack) needs them. Their metric is ``"dot"``.

    Raises
    ------
    ValueError
        A model without output vectors (every class but Item2Vec and SessionEmbed; an
        Item2Vec saved with ``scoring="cosine"`` may have none).
    """
    model = read_model(directory)
    name = type(model).__name__
    if name == "Item2Vec" and model.output_weights_ is not None:
        return Embeddings(model.embeddings_.keys, model.output_weights_, metric="dot")
    if name == "SessionEmbed":
        return Embeddings(model.item_keys_.tolist(), model.out_, metric="dot")
    raise ValueError(
        f"{directory} holds a {name} without output vectors; Item2Vec (trained with "
        "negative sampling) and SessionEmbed models have them: export its input vectors"
    )


def read_counts(directory: str | os.PathLike[str]) -> Any:
    """The training counts of the keys of one generation directory (``counts.npy``, one
    per key, in key order), or None for a directory without them."""
    directory = Path(directory)
    if not has_file(directory, read_manifest(directory), "counts.npy"):
        return None
    return read_npy(directory / "counts.npy")


def load_model(path: str | os.PathLike[str]) -> Any:
    """The model object of a model directory (one whole generation), by its manifest's class.

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError, ImportError
        As :func:`read_model`.
    """
    return load_consistent(path, read_model)


def load_embeddings(
    path: str | os.PathLike[str],
    *,
    unicode_errors: UnicodeErrors = "strict",
    no_header: bool = False,
) -> Embeddings:
    """The vectors of any model directory (one whole generation) or word2vec-format file.

    Parameters
    ----------
    path : path
        A model directory of any registered class (its item vectors for a two-tower model),
        any embedrec directory with ``keys.json`` + ``vectors.npy``, or a word2vec-format file.
    unicode_errors, no_header
        How a word2vec-format file is read (see :meth:`Embeddings.load_word2vec_format`).

    Returns
    -------
    Embeddings

    Raises
    ------
    FileNotFoundError, NotADirectoryError, ValueError
        A missing path, or one that holds no vectors embedrec can read.
    """
    path = Path(path)
    if path.is_file():
        return Embeddings.load_word2vec_format(
            path, unicode_errors=unicode_errors, no_header=no_header
        )
    return load_consistent(path, read_embeddings)


def _names() -> str:
    names = list(_REGISTRY)
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else "".join(names)
