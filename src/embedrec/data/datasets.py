"""Public recommendation data sets as :class:`~embedrec.data.interactions.Interactions`.

MovieLens 100K, MovieLens latest-small and Last.fm (HetRec 2011) are downloaded from
GroupLens when ``path`` is None; YOOCHOOSE and DIGINETICA have no stable official URL and
are read from a local copy only.

None of these data sets ships with embedrec: their licences forbid redistribution or limit
it to non-commercial research (MovieLens: research use, no redistribution of 100K; Last.fm:
non-commercial; YOOCHOOSE, DIGINETICA: research use). By downloading or reading one you
accept its terms; cite it as its README asks.

Downloads
---------
``path=None`` downloads the official zip into the cache folder (``cache_dir``, else
``$EMBEDREC_CACHE``, else ``~/.cache/embedrec/datasets``), extracts the files embedrec reads
into ``<cache>/<name>/`` and reuses them afterwards. The zip archives themselves are not
pinned: :data:`CHECKSUMS` holds the sha256 of each extracted *member* instead, computed
after turning CRLF line endings into LF (GroupLens ships some files with CRLF and some
public mirrors with LF; the content is what matters). A member whose checksum differs is
refused and nothing is written to the cache. Files go to temporary names first and are
renamed into place only when all of them are verified.

A ``path`` may be the folder holding the files, the downloaded zip, or (for the
interaction functions) one file of the data set in its format, e.g. MovieLens' ``u1.base``.

Local copies
------------
A team often keeps the data sets in one shared folder. When ``$EMBEDREC_DATA`` is set and
holds a data set's folder (:data:`LOCAL_FOLDERS`, e.g. ``$EMBEDREC_DATA/movielens-100k``),
``path=None`` reads that copy instead of downloading: for the downloadable data sets only
after every member in :data:`CHECKSUMS` matches, so a different file there is refused, not
read. YOOCHOOSE and DIGINETICA, which have no download, are read from there too.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .interactions import Interactions, build_interactions
from .readers import ColumnRef, read_table, seconds

logger = logging.getLogger("embedrec")

PathLike = str | os.PathLike[str]

#: Official download of each data set that has one.
URLS: dict[str, str] = {
    "ml-100k": "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    "ml-latest-small": "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
    "lastfm-2k": "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
}

#: sha256 of the zip members embedrec extracts, with CRLF line endings turned into LF.
#: Computed from copies verified against the official statistics (row, user and item
#: counts, cross-checked between independent mirrors); the zips themselves are not pinned.
CHECKSUMS: dict[str, dict[str, str]] = {
    "ml-100k": {
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
    },
    "ml-latest-small": {
        "ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8",
        "movies.csv": "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc",
    },
    "lastfm-2k": {
        "user_taggedartists.dat": (
            "c4a9ffae9ab47a9f9b2f0678ab1f7e5c1db4ca818837d8cddd1f5699c5bbf048"
        ),
        "artists.dat": "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
    },
}

#: The folder of each data set under ``$EMBEDREC_DATA`` (see "Local copies" above).
LOCAL_FOLDERS: dict[str, str] = {
    "ml-100k": "movielens-100k",
    "ml-latest-small": "movielens-latest-small",
    "lastfm-2k": "lastfm-2k",
    "yoochoose": "yoochoose-100k-sample",
    "diginetica": "diginetica-sample",
}

#: Seconds to wait for the server before a download is given up.
DOWNLOAD_TIMEOUT = 60.0

_ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)


# ---------------------------------------------------------------------- MovieLens
def movielens_100k(
    path: PathLike | None = None,
    *,
    min_rating: float | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    dedupe: bool = False,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Interactions:
    """MovieLens 100K ratings (GroupLens, 1998): 100,000 ratings, 943 users, 1,682 movies.

    Parameters
    ----------
    path : path, optional
        Folder holding ``u.data``, the ``ml-100k.zip``, or a file in ``u.data`` format
        (e.g. the split ``u1.base``). None downloads the zip (see the module docs).
    min_rating : float, optional
        Keep ratings >= this (1-5 stars), e.g. 4 to treat only liked movies as interactions.
    min_user_interactions, min_item_interactions : int
        Iterated k-core thresholds (see :func:`~embedrec.data.interactions.k_core`).
    dedupe : bool
        Drop repeated (user, movie, time) events (there are none in the official file).
    cache_dir : path, optional
        Download cache (default ``$EMBEDREC_CACHE`` or ``~/.cache/embedrec/datasets``).
    url : str, optional
        Download from here instead of GroupLens (a mirror, or ``file://`` for tests).

    Returns
    -------
    Interactions
        int user and movie keys, ``time`` in unix seconds, ``weight`` the rating.

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``u.data`` in it is missing.
    ConnectionError
        If the download fails (the message says how to download by hand).
    ValueError
        If a downloaded file fails its checksum, or a filter removes every rating.

    Examples
    --------
    >>> inter = movielens_100k("ml-100k/", min_rating=4)  # doctest: +SKIP
    >>> seqs = inter.sequences(min_length=2)  # doctest: +SKIP
    """
    src = _member("ml-100k", "u.data", path, cache_dir, url, allow_other_file=True)
    cols, names = _columns(
        src,
        {"user": 0, "item": 1, "weight": 2, "time": 3},
        sep="\t",
        has_header=False,
        column_names=["user_id", "item_id", "rating", "timestamp"],
        quoting=False,
    )
    return build_interactions(
        cols,
        label=_label(src, "u.data"),
        names=names,
        min_weight=min_rating,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
        dedupe=dedupe,
    )


def movielens_100k_items(
    path: PathLike | None = None,
    *,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Any:
    """Movies of MovieLens 100K (``u.item``) as a ``pyarrow.Table``, one row per movie.

    Columns: ``item`` (int64, the key used by :func:`movielens_100k`), ``title``,
    ``release_date`` (date32, null when unknown), ``year`` (int64, the year of
    ``release_date``, null when unknown: movie 267 only), ``imdb_url`` and ``genres`` (the
    19 genre flags as one ``|``-separated string in ``u.genre`` order, as in
    ml-latest-small; a two-tower ``multi_categorical`` feature reads it as is). ``path`` as
    in :func:`movielens_100k` (a file path means its folder).

    Examples
    --------
    >>> movies = movielens_100k_items("ml-100k/")  # doctest: +SKIP
    >>> movies.slice(0, 1).to_pylist()[0]["genres"]  # doctest: +SKIP
    "Animation|Children's|Comedy"
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    src = _member("ml-100k", "u.item", path, cache_dir, url)
    names = ["item", "title", "release_date", "video_release_date", "imdb_url"]
    names += [f"g{k}" for k in range(len(_ML100K_GENRES))]
    table, _ = read_table(
        src if isinstance(src, bytes) else Path(src),
        {"item": "item"},
        sep="|",
        has_header=False,
        column_names=names,
        encoding="latin-1",
        quoting=False,
        name="u.item",
        all_columns=True,
        text_columns=("title", "release_date", "imdb_url"),
    )
    flags = np.column_stack(
        [np.asarray(table.column(f"g{k}").to_numpy()) for k in range(len(_ML100K_GENRES))]
    ).astype(bool)
    genre_names = np.array(_ML100K_GENRES, dtype=object)
    # one short join per movie (a side table of ~1.7k rows, not a per-event loop)
    genres = ["|".join(genre_names[row].tolist()) for row in flags]
    release = pc.strptime(
        table.column("release_date"), format="%d-%b-%Y", unit="s", error_is_null=True
    )
    return pa.table(
        {
            "item": table.column("item").cast(pa.int64()),
            "title": table.column("title"),
            "release_date": release.cast(pa.date32()),
            "year": pc.year(release).cast(pa.int64()),
            "imdb_url": table.column("imdb_url"),
            "genres": pa.array(genres, type=pa.string()),
        }
    )


def movielens_100k_users(
    path: PathLike | None = None,
    *,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Any:
    """Users of MovieLens 100K (``u.user``) as a ``pyarrow.Table``, one row per user (943).

    Columns: ``user`` (int64, the key used by :func:`movielens_100k`), ``age`` (int64,
    years), ``gender`` (string, ``"M"`` or ``"F"``), ``occupation`` (string, one of the 21
    in ``u.occupation``) and ``zip`` (string: leading zeros kept, and some are Canadian
    postal codes such as ``"T8H1N"``). ``path``, ``cache_dir`` and ``url`` as in
    :func:`movielens_100k` (a file path means its folder).

    Returns
    -------
    pyarrow.Table
        The user side table for e.g. :class:`embedrec.models.two_tower.TwoTower`'s
        ``user_table``.

    Raises
    ------
    FileNotFoundError
        If ``path`` or ``u.user`` in it is missing.
    ConnectionError, ValueError
        As in :func:`movielens_100k` for a download.

    Examples
    --------
    >>> users = movielens_100k_users("ml-100k/")  # doctest: +SKIP
    >>> users.slice(0, 1).to_pylist()[0]  # doctest: +SKIP
    {'user': 1, 'age': 24, 'gender': 'M', 'occupation': 'technician', 'zip': '85711'}
    """
    import pyarrow as pa

    src = _member("ml-100k", "u.user", path, cache_dir, url)
    table, _ = read_table(
        src if isinstance(src, bytes) else Path(src),
        {"user": "user"},
        sep="|",
        has_header=False,
        column_names=["user", "age", "gender", "occupation", "zip"],
        encoding="latin-1",
        quoting=False,
        name="u.user",
        all_columns=True,
        text_columns=("gender", "occupation", "zip"),
    )
    return pa.table(
        {
            "user": table.column("user").cast(pa.int64()),
            "age": table.column("age").cast(pa.int64()),
            "gender": table.column("gender"),
            "occupation": table.column("occupation"),
            "zip": table.column("zip"),
        }
    )


def movielens_latest_small(
    path: PathLike | None = None,
    *,
    min_rating: float | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    dedupe: bool = False,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Interactions:
    """MovieLens latest-small (2018 build): 100,836 ratings, 610 users, 9,724 rated movies.

    Parameters
    ----------
    path : path, optional
        Folder holding ``ratings.csv``, the ``ml-latest-small.zip``, or a file in
        ``ratings.csv`` format. None downloads the zip (see the module docs).
    min_rating : float, optional
        Keep ratings >= this (0.5-5 in half stars).
    min_user_interactions, min_item_interactions, dedupe, cache_dir, url
        As in :func:`movielens_100k`.

    Returns
    -------
    Interactions
        int user and movie keys, ``time`` in unix seconds, ``weight`` the rating.
    """
    src = _member("ml-latest-small", "ratings.csv", path, cache_dir, url, allow_other_file=True)
    cols, names = _columns(
        src,
        {"user": "userId", "item": "movieId", "weight": "rating", "time": "timestamp"},
        sep=",",
    )
    return build_interactions(
        cols,
        label=_label(src, "ratings.csv"),
        names=names,
        min_weight=min_rating,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
        dedupe=dedupe,
    )


def movielens_latest_small_items(
    path: PathLike | None = None,
    *,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Any:
    """Movies of ml-latest-small (``movies.csv``) as a ``pyarrow.Table``, one row per movie.

    Columns: ``item`` (int64, the key used by :func:`movielens_latest_small`), ``title``,
    ``genres`` (``|``-separated, as in the file; ``"(no genres listed)"`` for 34 movies) and
    ``year`` (int64): the release year at the end of the title, ``"Heat (1995)"`` -> 1995
    (for a range such as ``"(2006–2007)"``, its first year); null for the 12 titles that
    end without one. ``path``, ``cache_dir`` and ``url`` as in
    :func:`movielens_latest_small`.
    """
    import pyarrow as pa

    src = _member("ml-latest-small", "movies.csv", path, cache_dir, url)
    table, _ = read_table(
        src if isinstance(src, bytes) else Path(src),
        {"item": "movieId"},
        sep=",",
        name="movies.csv",
        all_columns=True,
        text_columns=("title", "genres"),
    )
    return pa.table(
        {
            "item": table.column("movieId").cast(pa.int64()),
            "title": table.column("title"),
            "genres": table.column("genres"),
            "year": _title_year(table.column("title")),
        }
    )


def _title_year(titles: Any) -> Any:
    """int64 year from a title's trailing ``(1995)`` (or ``(2006–2007)``: 2006), vectorised;
    null where the title ends without one."""
    import pyarrow as pa
    import pyarrow.compute as pc

    found = pc.extract_regex(titles, pattern=r"\((?P<year>\d{4})(?:[-\x{2013}]\d{4})?\)\s*$")
    # a title that does not match is a null struct, and its field is null too
    return pc.struct_field(found, "year").cast(pa.int64())


# ---------------------------------------------------------------------- Last.fm
def lastfm_2k(
    path: PathLike | None = None,
    *,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    dedupe: bool = False,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Interactions:
    """Last.fm HetRec 2011 tag assignments: 186,479 (user, artist) events, 1,892 users.

    The events are the rows of ``user_taggedartists.dat`` (a user tagging an artist), since
    the play counts in ``user_artists.dat`` carry no time. The time of an event is its day
    (UTC midnight, unix seconds); events of one day keep their file order. An artist
    tagged with several tags at once gives several events; ``dedupe=True`` keeps one.

    Parameters
    ----------
    path : path, optional
        Folder holding ``user_taggedartists.dat``, the ``hetrec2011-lastfm-2k.zip``, or a
        file in that format. None downloads the zip (see the module docs).
    min_user_interactions, min_item_interactions, cache_dir, url
        As in :func:`movielens_100k`.
    dedupe : bool
        Drop repeated (user, artist, day) events.

    Returns
    -------
    Interactions
        int user and artist keys (artist names: :func:`lastfm_2k_artists`).
    """
    import pyarrow as pa

    src = _member(
        "lastfm-2k", "user_taggedartists.dat", path, cache_dir, url, allow_other_file=True
    )
    cols, names = _columns(
        src,
        {"user": "userID", "item": "artistID", "day": "day", "month": "month", "year": "year"},
        sep="\t",
        quoting=False,
    )
    day, month, year = (
        np.asarray(cols.pop(k).cast(pa.int64()).to_numpy(), dtype=np.int64)
        for k in ("day", "month", "year")
    )
    unix = _utc_midnight(year, month, day, _label(src, "user_taggedartists.dat"))
    cols["time"] = pa.chunked_array([pa.array(unix)])
    names["time"] = "day/month/year"
    return build_interactions(
        cols,
        label=_label(src, "user_taggedartists.dat"),
        names=names,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
        dedupe=dedupe,
    )


def lastfm_2k_artists(
    path: PathLike | None = None,
    *,
    cache_dir: PathLike | None = None,
    url: str | None = None,
) -> Any:
    """Artists of Last.fm 2K (``artists.dat``): ``item`` (int64), ``name``, ``url``."""
    import pyarrow as pa

    src = _member("lastfm-2k", "artists.dat", path, cache_dir, url)
    table, _ = read_table(
        src if isinstance(src, bytes) else Path(src),
        {"item": "id"},
        sep="\t",
        quoting=False,
        name="artists.dat",
        all_columns=True,
        text_columns=("name", "url"),
    )
    return pa.table(
        {
            "item": table.column("id").cast(pa.int64()),
            "name": table.column("name"),
            "url": table.column("url"),
        }
    )


# ---------------------------------------------------------------------- session data sets
def yoochoose(
    path: PathLike | None = None,
    *,
    split: str = "train_full",
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    dedupe: bool = False,
) -> Interactions:
    """YOOCHOOSE clicks (RecSys Challenge 2015) in session-rec's prepared format.

    The file is tab-separated with the header ``SessionId  ItemId  Time`` (unix seconds),
    as written by session-rec's preprocessing (``*_train_full.txt``, ``*_test.txt``, ...).
    Sessions are the "users" of the returned log.

    Parameters
    ----------
    path : path
        The prepared file, or the folder holding it (then ``split`` picks
        ``*_<split>.txt``). YOOCHOOSE has no stable official download: None reads
        ``$EMBEDREC_DATA/yoochoose-100k-sample`` (see "Local copies" above).
    split : str
        ``"train_full"``, ``"train_tr"``, ``"train_valid"`` or ``"test"`` (folder only).
    min_user_interactions, min_item_interactions, dedupe
        As in :func:`movielens_100k` (users are sessions).

    Returns
    -------
    Interactions
        int session and item keys, ``time`` in unix seconds.
    """
    file = _local_file(
        "YOOCHOOSE",
        path,
        f"*_{split}.txt",
        "get yoochoose-clicks.dat from the RecSys Challenge 2015 data "
        "(https://recsys.acm.org/recsys15/challenge/), prepare it with session-rec "
        "(https://github.com/rn5l/session-rec) and pass path= to the prepared file",
    )
    cols, names = _columns(file, {"user": "SessionId", "item": "ItemId", "time": "Time"}, sep="\t")
    return build_interactions(
        cols,
        label=str(file),
        names=names,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
        dedupe=dedupe,
    )


def diginetica(
    path: PathLike | None = None,
    *,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    dedupe: bool = False,
) -> Interactions:
    """DIGINETICA item views (CIKM Cup 2016, ``train-item-views.csv``), one "user" per session.

    The file is ``;``-separated with the header
    ``session_id;user_id;item_id;timeframe;eventdate``; ``timeframe`` is the time of the
    view inside its session in milliseconds. Events are ordered by session, then
    ``timeframe``. Their time is the date of the session's first view (UTC midnight) plus
    ``timeframe``: real seconds between the views of a session, though not clock times (and
    a session that passes midnight is not split by a spurious one-day gap).

    Parameters
    ----------
    path : path
        ``train-item-views.csv`` (or SR-GNN's ``sample_train-item-views.csv``), or the
        folder holding it. DIGINETICA has no stable official download: None reads
        ``$EMBEDREC_DATA/diginetica-sample`` (see "Local copies" above).
    min_user_interactions, min_item_interactions, dedupe
        As in :func:`movielens_100k` (users are sessions).

    Returns
    -------
    Interactions
        int session and item keys, ``time`` in seconds.
    """
    import pyarrow as pa

    file = _local_file(
        "DIGINETICA",
        path,
        "*train-item-views.csv",
        "get train-item-views.csv from the CIKM Cup 2016 data "
        "(https://competitions.codalab.org/competitions/11161) and pass path= to it",
    )
    cols, names = _columns(
        file,
        {"user": "session_id", "item": "item_id", "frame": "timeframe", "date": "eventdate"},
        sep=";",
    )
    session = np.asarray(cols["user"].to_numpy())
    date = seconds(cols.pop("date"), "eventdate", "%Y-%m-%d", "s")
    frame = np.asarray(cols.pop("frame").cast(pa.float64()).to_numpy(), dtype=np.float64)
    _, codes = np.unique(session, return_inverse=True)
    first_day = np.full(int(codes.max()) + 1 if codes.size else 0, np.inf)
    np.minimum.at(first_day, codes, date)
    cols["time"] = pa.chunked_array([pa.array(first_day[codes] + frame * 1e-3)])
    names["time"] = "eventdate + timeframe"
    return build_interactions(
        cols,
        label=str(file),
        names=names,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
        dedupe=dedupe,
    )


# ---------------------------------------------------------------------- helpers
def _columns(
    src: Path | bytes,
    roles: Mapping[str, ColumnRef],
    **read: Any,
) -> tuple[dict[str, Any], dict[str, str]]:
    """Role -> column of a data set file (path or zip-member bytes), and role -> name."""
    table, names = read_table(
        src if isinstance(src, bytes) else Path(src), roles, name=read.pop("name", None), **read
    )
    return {role: table.column(name) for role, name in names.items()}, names


def _label(src: Path | bytes, member: str) -> str:
    return member if isinstance(src, bytes) else str(src)


def _utc_midnight(
    year: npt.NDArray[np.int64],
    month: npt.NDArray[np.int64],
    day: npt.NDArray[np.int64],
    label: str,
) -> npt.NDArray[np.float64]:
    """Unix seconds of UTC midnight of each (year, month, day), vectorised."""
    bad = (month < 1) | (month > 12) | (day < 1) | (day > 31)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{label} has {int(bad.sum())} impossible dates (e.g. day {day[k]}, month "
            f"{month[k]}, year {year[k]})"
        )
    months = (year - 1970) * 12 + (month - 1)
    days = months.astype("datetime64[M]").astype("datetime64[D]") + (day - 1).astype(
        "timedelta64[D]"
    )
    seconds: npt.NDArray[np.float64] = days.astype(np.int64).astype(np.float64) * 86400.0
    return seconds


def local_copy(name: str) -> Path | None:
    """``$EMBEDREC_DATA/<folder>`` of data set ``name`` (a key of :data:`LOCAL_FOLDERS`)
    when the variable is set and the folder exists, else None."""
    root = os.environ.get("EMBEDREC_DATA")
    if not root or name not in LOCAL_FOLDERS:
        return None
    folder = Path(root) / LOCAL_FOLDERS[name]
    return folder if folder.is_dir() else None


def _verified_local(name: str) -> Path | None:
    """The local copy of a downloadable data set, once its members match :data:`CHECKSUMS`.

    Raises
    ------
    ValueError
        If a member is missing or differs: the copy is not the official data.
    """
    folder = local_copy(name)
    if folder is None:
        return None
    for member, expected in CHECKSUMS[name].items():
        file = folder / member
        if not file.is_file() or sha256_lf(file) != expected:
            what = "has no" if not file.is_file() else "holds a different"
            raise ValueError(
                f"$EMBEDREC_DATA/{LOCAL_FOLDERS[name]} {what} {member} than the official "
                f"{name} (sha256 {expected}, CRLF counted as LF); fix that copy, pass path= "
                "explicitly, or unset EMBEDREC_DATA to download"
            )
    return folder


def _local_file(what: str, path: PathLike | None, pattern: str, how: str) -> Path:
    if path is None:
        local = local_copy(what.lower())
        if local is None:
            raise ValueError(
                f"{what} has no stable official download URL; {how} (or put it in "
                f"$EMBEDREC_DATA/{LOCAL_FOLDERS[what.lower()]})"
            )
        path = local
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist; {how}")
    if p.is_file():
        return p
    found = sorted(p.glob(pattern))
    if len(found) != 1:
        listing = sorted(q.name for q in p.iterdir())[:20]
        raise FileNotFoundError(
            f"{p} holds {len(found)} files matching {pattern!r} (it holds {listing}); pass "
            "the file itself"
        )
    return found[0]


def cache_root(cache_dir: PathLike | None = None) -> Path:
    """The download cache: ``cache_dir``, else ``$EMBEDREC_CACHE``, else
    ``~/.cache/embedrec/datasets``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("EMBEDREC_CACHE")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "embedrec" / "datasets"


def _member(
    name: str,
    member: str,
    path: PathLike | None,
    cache_dir: PathLike | None,
    url: str | None,
    *,
    allow_other_file: bool = False,
) -> Path | bytes:
    """Where to read ``member`` of data set ``name`` from: a file, or a zip member's bytes."""
    source_url = url or URLS[name]
    if path is None:
        local = _verified_local(name) if url is None else None
        if local is not None:
            return local / member
        return fetch(name, cache_dir=cache_dir, url=url) / member
    p = Path(path)
    hint = f"pass the folder holding {member}, the zip from {source_url}, or path=None to download"
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist; {hint}")
    if p.is_dir():
        for cand in (p / member, *sorted(p.glob(f"*/{member}"))):
            if cand.is_file():
                return cand
        raise FileNotFoundError(f"{p} holds no {member}; {hint}")
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as zf:
            info = _find_member(zf, member)
            if info is None:
                raise FileNotFoundError(f"the zip {p} holds no {member}; {hint}")
            return zf.read(info)
    if allow_other_file or p.name == member:
        return p
    sibling = p.parent / member
    if sibling.is_file():
        return sibling
    raise FileNotFoundError(f"{p.parent} holds no {member}; {hint}")


def _find_member(zf: zipfile.ZipFile, member: str) -> zipfile.ZipInfo | None:
    hits = [
        info
        for info in zf.infolist()
        if not info.is_dir()
        and info.filename.rsplit("/", 1)[-1] == member
        and not info.filename.startswith("__MACOSX/")
    ]
    return min(hits, key=lambda info: len(info.filename)) if hits else None


def fetch(
    name: str,
    *,
    cache_dir: PathLike | None = None,
    url: str | None = None,
    timeout: float | None = None,
) -> Path:
    """Download data set ``name`` (a key of :data:`URLS`) into the cache, once.

    The zip is downloaded to a temporary file, the members listed in :data:`CHECKSUMS` are
    extracted to a temporary folder and verified, and only then renamed into
    ``<cache>/<name>/``. On any failure nothing is left in the cache.

    Parameters
    ----------
    name : str
        ``"ml-100k"``, ``"ml-latest-small"`` or ``"lastfm-2k"``.
    cache_dir : path, optional
        See :func:`cache_root`.
    url : str, optional
        Download from here instead of :data:`URLS` (``http(s)://`` or ``file://``).
    timeout : float, optional
        Seconds to wait for the server (default :data:`DOWNLOAD_TIMEOUT`).

    Returns
    -------
    Path
        The folder holding the verified members.

    Raises
    ------
    ConnectionError
        If the download fails; the message says how to get the data by hand.
    ValueError
        If the download is not a zip, lacks a member, or a member fails its checksum.
    """
    if name not in URLS:
        raise ValueError(f"unknown data set {name!r}; downloadable ones: {sorted(URLS)}")
    members = CHECKSUMS[name]
    source = url or URLS[name]
    root = cache_root(cache_dir)
    target = root / name
    if all((target / m).is_file() for m in members):
        return target
    first = next(iter(members))
    by_hand = f"download it by hand and pass path=... (the folder holding {first}, or the zip)"
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp_zip = tempfile.mkstemp(prefix=f".{name}.", suffix=".zip.tmp", dir=root)
    tmp_dir: Path | None = None
    try:
        logger.info("downloading %s from %s into %s", name, source, target)
        with os.fdopen(fd, "wb") as fh:
            _download(source, fh, timeout or DOWNLOAD_TIMEOUT, f"{name} from {source}", by_hand)
        tmp_dir = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=root))
        try:
            zf = zipfile.ZipFile(tmp_zip)
        except zipfile.BadZipFile as exc:
            raise ValueError(
                f"the download of {name} from {source} is not a zip file ({exc}); {by_hand}"
            ) from exc
        with zf:
            for member, expected in members.items():
                info = _find_member(zf, member)
                if info is None:
                    raise ValueError(
                        f"the zip of {name} from {source} holds no {member}; {by_hand}"
                    )
                dest = tmp_dir / member
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                got = sha256_lf(dest)
                if got != expected:
                    raise ValueError(
                        f"checksum mismatch for {member} of {name} from {source}: expected "
                        f"sha256 {expected}, got {got} (CRLF counted as LF); the download is "
                        f"corrupt or the upstream file changed. Nothing was written to "
                        f"{target}; retry, or {by_hand}"
                    )
        target.mkdir(parents=True, exist_ok=True)
        for member in members:
            os.replace(tmp_dir / member, target / member)
    finally:
        Path(tmp_zip).unlink(missing_ok=True)
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


def _download(url: str, out: Any, timeout: float, what: str, by_hand: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "embedrec"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
    except urllib.error.HTTPError as exc:
        raise ConnectionError(f"could not download {what} ({exc}); {by_hand}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise ConnectionError(
            f"could not download {what} ({reason}); no internet? {by_hand}"
        ) from exc


def sha256_lf(path: PathLike) -> str:
    """sha256 of a file with every CRLF line ending read as LF (streamed)."""
    digest = hashlib.sha256()
    carry = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            chunk = carry + chunk
            # a CR at the chunk's end may start a CRLF split across chunks
            carry = b"\r" if chunk.endswith(b"\r") else b""
            if carry:
                chunk = chunk[:-1]
            digest.update(chunk.replace(b"\r\n", b"\n"))
    digest.update(carry)
    return digest.hexdigest()
