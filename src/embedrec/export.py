"""Exports of an :class:`~embedrec.vectors.Embeddings` for other tools.

* ``word2vec``: word2vec.c text or binary format (gensim's ``KeyedVectors.load_word2vec_format``).
* ``npy``: a directory with ``vectors.npy`` (float32), ``keys.json`` and ``manifest.json``
  (:meth:`Embeddings.save`; ``Embeddings.load`` reads it back).
* ``parquet``: one row per key: a ``key`` column (int64 or string) and the vector, either as one
  ``vector`` column of ``fixed_size_list<float32>[dim]`` (default) or as ``dim`` float32
  columns ``v0 .. v{dim-1}``.
* ``tensorboard``: a directory for the TensorBoard Embedding Projector: ``vectors.tsv``,
  ``metadata.tsv`` (key and any extra per-key columns) and ``projector_config.pbtxt``. Open
  it with ``tensorboard --logdir DIR`` or load the two TSVs at projector.tensorflow.org.

Every file is written atomically (temporary file, then rename).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._io import atomic_dir, atomic_open
from .vectors import Embeddings

ExportFormat = Literal["word2vec", "npy", "parquet", "tensorboard"]
ParquetLayout = Literal["list", "columns"]


def export_embeddings(
    emb: Embeddings,
    out: str | os.PathLike[str],
    fmt: ExportFormat,
    *,
    binary: bool = False,
    layout: ParquetLayout = "list",
    metadata: Mapping[str, Sequence[Any]] | None = None,
) -> Path:
    """Write ``emb`` to ``out`` in format ``fmt``; returns the path written.

    Parameters
    ----------
    emb
        The vectors to export.
    out
        A file (``word2vec``, ``parquet``) or a directory (``npy``, ``tensorboard``).
    fmt
        See the module docstring.
    binary
        ``word2vec``: binary instead of text.
    layout
        ``parquet``: ``"list"`` (one list column) or ``"columns"`` (one column per dimension).
    metadata
        ``tensorboard`` (and ``parquet``): extra per-key columns, each aligned with
        ``emb.keys``, e.g. ``{"count": counts, "title": titles}``.
    """
    out = Path(out)
    extra = _check_metadata(emb, metadata)
    if fmt == "word2vec":
        emb.save_word2vec_format(out, binary=binary)
    elif fmt == "npy":
        emb.save(out)
    elif fmt == "parquet":
        write_parquet(emb, out, layout=layout, metadata=extra)
    elif fmt == "tensorboard":
        write_tensorboard(emb, out, metadata=extra)
    else:
        raise ValueError(
            f"fmt={fmt!r} is invalid; use 'word2vec', 'npy', 'parquet' or 'tensorboard'"
        )
    return out


def _check_metadata(
    emb: Embeddings, metadata: Mapping[str, Sequence[Any]] | None
) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for name, values in (metadata or {}).items():
        vals = values.tolist() if isinstance(values, np.ndarray) else list(values)
        if len(vals) != len(emb):
            raise ValueError(
                f"metadata column {name!r} has {len(vals)} values for {len(emb)} keys; give one "
                "value per key, in the order of emb.keys"
            )
        if name in ("key", "vector") or (name.startswith("v") and name[1:].isdigit()):
            raise ValueError(f"metadata column {name!r} clashes with an export column; rename it")
        out[name] = vals
    return out


def write_parquet(
    emb: Embeddings,
    path: str | os.PathLike[str],
    *,
    layout: ParquetLayout = "list",
    metadata: Mapping[str, list[Any]] | None = None,
) -> None:
    """Parquet with a ``key`` column and the vectors (see :func:`export_embeddings`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    vec = np.ascontiguousarray(emb.vectors, dtype=np.float32)
    key_type = pa.int64() if emb.key_type == "int" else pa.string()
    columns: dict[str, Any] = {"key": pa.array(emb.keys, type=key_type)}
    if layout == "list":
        flat = pa.array(vec.reshape(-1), type=pa.float32())
        columns["vector"] = pa.FixedSizeListArray.from_arrays(flat, emb.dim)
    elif layout == "columns":
        for d in range(emb.dim):
            columns[f"v{d}"] = pa.array(vec[:, d], type=pa.float32())
    else:
        raise ValueError(f"layout={layout!r} is invalid; use 'list' or 'columns'")
    for name, values in (metadata or {}).items():
        columns[name] = pa.array(values)
    table = pa.table(columns).replace_schema_metadata(
        {b"embedrec.metric": emb.metric.encode(), b"embedrec.dim": str(emb.dim).encode()}
    )
    with atomic_open(Path(path), "wb") as fh:
        pq.write_table(table, fh)


def read_parquet(path: str | os.PathLike[str]) -> Embeddings:
    """Read a file written by :func:`write_parquet` (either layout) back into Embeddings."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    names = table.column_names
    if "key" not in names:
        raise ValueError(f"{path} has no 'key' column; columns are {names}")
    keys = table.column("key").to_pylist()
    if "vector" in names:
        col = table.column("vector").combine_chunks()
        dim = col.type.list_size
        vec = np.asarray(col.flatten().to_numpy(), dtype=np.float32).reshape(-1, dim)
    else:
        vcols = sorted(
            (n for n in names if n[:1] == "v" and n[1:].isdigit()), key=lambda n: int(n[1:])
        )
        if not vcols:
            raise ValueError(f"{path} has no 'vector' or v0..vN columns; columns are {names}")
        vec = np.column_stack([table.column(n).to_numpy() for n in vcols]).astype(np.float32)
    meta = table.schema.metadata or {}
    metric = meta.get(b"embedrec.metric", b"cosine").decode()
    return Embeddings(keys, vec, metric=metric)


def write_tensorboard(
    emb: Embeddings,
    out_dir: str | os.PathLike[str],
    *,
    metadata: Mapping[str, list[Any]] | None = None,
) -> None:
    """TensorBoard projector files: vectors.tsv, metadata.tsv, projector_config.pbtxt."""
    extra = dict(metadata or {})

    def cell(v: Any) -> str:  # TSV cells: no tabs or newlines
        return " ".join(str(v).split())

    with atomic_dir(out_dir) as tmp:
        with open(tmp / "vectors.tsv", "w", encoding="utf-8") as fh:
            np.savetxt(fh, emb.vectors, delimiter="\t", fmt="%.6g")
        with open(tmp / "metadata.tsv", "w", encoding="utf-8") as fh:
            if extra:  # with several columns the projector expects a header row
                fh.write("\t".join(["key", *extra]) + "\n")
                cols = list(extra.values())
                for i, key in enumerate(emb.keys):
                    fh.write("\t".join([cell(key), *(cell(c[i]) for c in cols)]) + "\n")
            else:  # a single column has no header
                fh.writelines(cell(key) + "\n" for key in emb.keys)
        (tmp / "projector_config.pbtxt").write_text(
            "embeddings {\n"
            '  tensor_name: "embedrec"\n'
            '  tensor_path: "vectors.tsv"\n'
            '  metadata_path: "metadata.tsv"\n'
            "}\n",
            encoding="utf-8",
        )


def read_tensorboard_vectors(out_dir: str | os.PathLike[str]) -> npt.NDArray[np.float32]:
    """The vectors of a projector directory (for checks)."""
    return np.loadtxt(Path(out_dir) / "vectors.tsv", delimiter="\t", dtype=np.float32, ndmin=2)
