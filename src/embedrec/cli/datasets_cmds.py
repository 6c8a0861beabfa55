"""``embedrec datasets``: the public data sets embedrec reads, and a CSV copy of one.

``datasets list`` says what each data set is, its licence, its size and where a local copy
was found; ``datasets get NAME --out FILE`` reads one through
:mod:`embedrec.data.datasets` (``path=None``: ``$EMBEDREC_DATA/<folder>`` when it holds
the data set, else the download cache, else a verified download) and writes its
interaction log as a CSV file that ``embedrec item2vec train`` and ``embedrec eval`` read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np
import numpy.typing as npt

from ..data import datasets as ds
from ..data.interactions import Interactions
from ._common import check_out_file, echo_fields, echo_report, echo_table, json_option

__all__ = ["CATALOGUE", "DatasetInfo", "datasets", "train_command", "write_interactions_csv"]

#: the CSV header of ``datasets get``, the flags that read it back
USER, ITEM, RATING, TIME = "user", "item", "rating", "timestamp"


@dataclass(frozen=True)
class DatasetInfo:
    """What ``datasets list`` says about one data set, and how to read it."""

    what: str
    size: str
    licence: str
    read: Callable[[], Interactions]


#: the data sets, by the name ``datasets get`` takes (the names of
#: :data:`embedrec.data.datasets.LOCAL_FOLDERS`)
CATALOGUE: dict[str, DatasetInfo] = {
    "ml-100k": DatasetInfo(
        "MovieLens 100K movie ratings (GroupLens, 1998)",
        "100,000 ratings, 943 users, 1,682 movies",
        "research use; no redistribution",
        lambda: ds.movielens_100k(None),
    ),
    "ml-latest-small": DatasetInfo(
        "MovieLens latest-small ratings (GroupLens, 2018)",
        "100,836 ratings, 610 users, 9,724 movies",
        "non-commercial",
        lambda: ds.movielens_latest_small(None),
    ),
    "lastfm-2k": DatasetInfo(
        "Last.fm artist tagging (HetRec 2011)",
        "186,479 events, 1,892 users, 12,523 artists",
        "non-commercial",
        lambda: ds.lastfm_2k(None),
    ),
    "yoochoose": DatasetInfo(
        "YOOCHOOSE click sessions (RecSys Challenge 2015)",
        "about 33M clicks (full set)",
        "research use; local copy only",
        lambda: ds.yoochoose(None),
    ),
    "diginetica": DatasetInfo(
        "DIGINETICA item-view sessions (CIKM Cup 2016)",
        "about 1.2M views (full set)",
        "research use; local copy only",
        lambda: ds.diginetica(None),
    ),
}


def _local(name: str) -> str:
    """Where a copy of ``name`` was found: ``$EMBEDREC_DATA/<folder>``, the download cache,
    or ``-`` (the cache only counts when it holds every member :func:`ds.fetch` verifies)."""
    local = ds.local_copy(name)
    if local is not None:
        return str(local)
    cached = ds.cache_root() / name
    members = ds.CHECKSUMS.get(name)
    if members and all((cached / m).is_file() for m in members):
        return str(cached)
    return "-"


def _source(name: str) -> str:
    return ds.URLS.get(name, "none: put a copy in $EMBEDREC_DATA/" + ds.LOCAL_FOLDERS[name])


@click.group()
def datasets() -> None:
    """Public data sets: what they are, and a CSV copy of one for the train commands."""


@datasets.command(name="list")
@json_option
def list_datasets(as_json: bool) -> None:
    """The data sets `embedrec datasets get` reads, their licences and local copies.

    A local copy is $EMBEDREC_DATA/<folder> (read instead of a download when it matches the
    official checksums) or the download cache ($EMBEDREC_CACHE, default
    ~/.cache/embedrec/datasets).
    """
    rows = [
        {
            "name": name,
            "what": info.what,
            "size": info.size,
            "licence": info.licence,
            "download": _source(name),
            "local": _local(name),
        }
        for name, info in CATALOGUE.items()
    ]

    def render() -> None:
        head = ("name", "what", "size", "licence", "local copy")
        cells = ((r["name"], r["what"], r["size"], r["licence"], r["local"]) for r in rows)
        echo_table([head, *cells], "<<<<<")
        click.echo(
            "\nNone ships with embedrec; by reading one you accept its licence. "
            "`embedrec datasets get NAME --out FILE` writes one as CSV (downloading it when it "
            "is downloadable and no local copy is found; set EMBEDREC_DATA to a shared folder "
            "to read copies from there)."
        )

    echo_report(rows, render, as_json=as_json)


def write_interactions_csv(
    inter: Interactions,
    path: Path,
    extra: Mapping[str, npt.NDArray[Any]] | None = None,
) -> list[str]:
    """Write ``inter`` as CSV with a header, one row per event in log order; returns the header.

    Columns: ``user``, ``item``, ``rating`` (when the log has weights), the ``extra``
    per-event columns, ``timestamp`` (integers when every time is whole). Written atomically
    (a temporary file renamed into place).
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from .._io import atomic_open

    cols: dict[str, Any] = {
        USER: inter.user_keys[inter.user],
        ITEM: inter.item_keys[inter.item],
    }
    if inter.weight is not None:
        cols[RATING] = inter.weight
    for name, values in (extra or {}).items():
        if values.shape != (len(inter),):
            raise ValueError(f"column {name} has shape {values.shape}, expected {(len(inter),)}")
        cols[name] = values
    whole = bool(np.all(inter.time == np.floor(inter.time)))
    cols[TIME] = inter.time.astype(np.int64) if whole else inter.time
    table = pa.table({name: pa.array(values) for name, values in cols.items()})
    with atomic_open(path, "wb") as fh:
        # arrow quotes header names always; the names here need no quotes
        fh.write((",".join(cols) + "\n").encode())
        options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
        pacsv.write_csv(table, fh, options)
    return list(cols)


def train_command(path: Path | str) -> str:
    """The ``embedrec item2vec train`` command line for a CSV written by
    :func:`write_interactions_csv` (``--out`` beside it)."""
    import shlex

    out = Path(path).with_suffix("").as_posix() + "-item2vec"
    return (
        f"embedrec item2vec train {shlex.quote(str(path))} --user-col {USER} --item-col {ITEM} "
        f"--time-col {TIME} --holdout leave-last-out --out {shlex.quote(out)}"
    )


@datasets.command(name="get")
@click.argument("name")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV file to write (user,item[,rating],timestamp).",
)
@json_option
def get_dataset(name: str, out: Path, as_json: bool) -> None:
    """Write data set NAME's interactions to a CSV file with a header.

    Reads $EMBEDREC_DATA/<folder> when it holds the data set, else the download cache, else
    downloads it (checksums verified). NAME is one of `embedrec datasets list`.
    """
    if name not in CATALOGUE:
        raise click.BadParameter(
            f"unknown data set {name!r}; known ones: {', '.join(CATALOGUE)}", param_hint="NAME"
        )
    check_out_file(out)
    inter = CATALOGUE[name].read()
    header = write_interactions_csv(inter, out)
    where = _local(name)
    payload = {
        "name": name,
        "out": str(out),
        "source": where,
        "events": len(inter),
        "users": inter.n_users,
        "items": inter.n_items,
        "columns": header,
        "next": train_command(out),
    }
    fields = [
        ("wrote", str(out)),
        ("data set", f"{name} (read from {where})"),
        ("events", f"{len(inter):,} of {inter.n_users:,} users and {inter.n_items:,} items"),
        ("columns", ",".join(header)),
        ("next", payload["next"]),
    ]
    echo_report(payload, lambda: echo_fields(fields), as_json=as_json)
