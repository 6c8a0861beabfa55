"""Public recommendation datasets: download from the official source (checksummed, cached)
or read a local copy.

The data are not shipped with embedrec: their licences forbid or do not grant
redistribution. ``path=None`` downloads the official archive into the cache
(``$EMBEDREC_CACHE`` or ``~/.cache/embedrec/datasets``), checks the SHA-256 of every file used
(line endings normalised, since some mirrors convert them), and reads it; ``path=...`` reads a
copy you already have (the folder, or the zip). YOOCHOOSE and DIGINETICA have no stable
official download: pass their path.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .interactions import Interactions, read_interactions

logger = logging.getLogger("embedrec")


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from and the checksums of the files embedrec reads."""

    name: str
    url: str | None
    folder: str  # folder inside the archive that holds the files
    files: dict[str, str]  # file name -> sha256 of its content with "\r" removed
    licence: str


SPECS: dict[str, DatasetSpec] = {
    "ml-100k": DatasetSpec(
        "ml-100k",
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        "ml-100k",
        {"u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"},
        "GroupLens: research use, cite Harper & Konstan 2015, no redistribution",
    ),
    "ml-latest-small": DatasetSpec(
        "ml-latest-small",
        "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip",
        "ml-latest-small",
        {"ratings.csv": "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8"},
        "GroupLens: research use, cite Harper & Konstan 2015, redistribution under the same terms",
    ),
    "lastfm-2k": DatasetSpec(
        "lastfm-2k",
        "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
        "",
        {
            "user_taggedartists.dat": (
                "c4a9ffae9ab47a9f9b2f0678ab1f7e5c1db4ca818837d8cddd1f5699c5bbf048"
            )
        },
        "Last.fm via HetRec 2011: non-commercial use",
    ),
}


def cache_dir() -> Path:
    """``$EMBEDREC_CACHE`` or ``~/.cache/embedrec/datasets``."""
    root = os.environ.get("EMBEDREC_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "embedrec" / "datasets"


def normalised_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes with every ``\\r`` removed (CRLF and LF copies agree)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk.replace(b"\r", b""))
    return h.hexdigest()


def _verify(spec: DatasetSpec, folder: Path) -> None:
    for name, digest in spec.files.items():
        f = folder / name
        if not f.exists():
            raise FileNotFoundError(f"{spec.name}: {f} is missing; is {folder} the right folder?")
        got = normalised_sha256(f)
        if got != digest:
            raise ValueError(
                f"{spec.name}: {f} has sha256 {got}, expected {digest}; the file is corrupt or "
                "a modified copy: download it again"
            )


def fetch(spec: DatasetSpec, *, url: str | None = None, timeout: float = 60.0) -> Path:
    """Download and unpack ``spec`` into the cache (once); return the folder of its files.

    The archive goes to a temporary file and the extraction to a temporary folder, renamed
    into place only after every checksum matched, so the cache never holds a partial copy.
    """
    target = cache_dir() / spec.name
    if target.is_dir():
        try:
            _verify(spec, target)
            return target
        except (FileNotFoundError, ValueError):
            logger.warning("cached %s failed its checksum; downloading it again", spec.name)
            shutil.rmtree(target)
    url = url or spec.url
    if url is None:
        raise ValueError(f"{spec.name} has no official download; pass path=... to a local copy")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{spec.name}-") as tmpd:
        tmp = Path(tmpd)
        archive = tmp / "archive.zip"
        logger.info("downloading %s from %s (%s)", spec.name, url, spec.licence)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(archive, "wb") as out:
                shutil.copyfileobj(resp, out)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConnectionError(
                f"could not download {spec.name} from {url} ({exc}); no internet? Download it "
                f"by hand and pass path=... (the folder holding {', '.join(spec.files)}, or "
                "the zip)"
            ) from exc
        unpacked = _unzip(archive, tmp / "unpacked", spec)
        _verify(spec, unpacked)
        unpacked.rename(target)
    return target


def _unzip(archive: Path, dest: Path, spec: DatasetSpec) -> Path:
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                name = Path(member)
                if name.is_absolute() or ".." in name.parts:
                    raise ValueError(f"{archive} has an unsafe member path {member!r}")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{spec.name}: the download is not a zip archive ({exc})") from exc
    folder = dest / spec.folder if spec.folder else dest
    if not all((folder / f).exists() for f in spec.files):  # some zips add a top folder
        hits = [p.parent for p in dest.rglob(next(iter(spec.files)))]
        if hits:
            folder = hits[0]
    return folder


def _local(spec: DatasetSpec, path: str | os.PathLike[str]) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{spec.name}: {p} does not exist; check the path")
    if p.is_file() and p.suffix.lower() == ".zip":
        out = cache_dir() / f"{spec.name}-from-zip"
        if not out.is_dir():
            out.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=out.parent) as tmpd:
                folder = _unzip(p, Path(tmpd) / "unpacked", spec)
                _verify(spec, folder)
                folder.rename(out)
        p = out
    if p.is_file():
        p = p.parent
    _verify(spec, p)
    return p


def _folder(name: str, path: str | os.PathLike[str] | None, url: str | None) -> Path:
    spec = SPECS[name]
    return fetch(spec, url=url) if path is None else _local(spec, path)


def movielens_100k(
    path: str | os.PathLike[str] | None = None, *, url: str | None = None
) -> Interactions:
    """MovieLens 100K ratings (``u.data``): 100,000 events, 943 users, 1,682 movies; weight is
    the 1-5 rating, time the unix timestamp."""
    folder = _folder("ml-100k", path, url)
    return read_interactions(
        folder / "u.data",
        user_col=0,
        item_col=1,
        weight_col=2,
        time_col=3,
        sep="\t",
        has_header=False,
    )


def movielens_latest_small(
    path: str | os.PathLike[str] | None = None, *, url: str | None = None
) -> Interactions:
    """MovieLens latest-small ratings (``ratings.csv``): 100,836 events, 610 users, 9,724
    movies; weight is the 0.5-5 rating."""
    folder = _folder("ml-latest-small", path, url)
    return read_interactions(
        folder / "ratings.csv",
        user_col="userId",
        item_col="movieId",
        weight_col="rating",
        time_col="timestamp",
        sep=",",
    )


def lastfm_2k(
    path: str | os.PathLike[str] | None = None, *, url: str | None = None
) -> Interactions:
    """Last.fm HetRec 2K tag assignments (``user_taggedartists.dat``): 186,479 events of
    1,892 users on artists; time is the assignment's date (UTC midnight), ties kept in file
    order. (``user_artists.dat`` has play counts but no time.) Use
    :meth:`Interactions.first_occurrences` for one event per (user, artist)."""
    import pyarrow.csv as pacsv

    folder = _folder("lastfm-2k", path, url)
    table = pacsv.read_csv(
        folder / "user_taggedartists.dat", parse_options=pacsv.ParseOptions(delimiter="\t")
    )
    y, m, d = (np.asarray(table.column(c).to_numpy(), np.int64) for c in ("year", "month", "day"))
    uniq, inv = np.unique(y * 10000 + m * 100 + d, return_inverse=True)
    epoch = datetime.date(1970, 1, 1).toordinal()
    days = np.array(
        [
            datetime.date(k // 10000, k // 100 % 100, k % 100).toordinal() - epoch
            for k in uniq.tolist()
        ],
        dtype=np.float64,
    )
    seconds = days[inv] * 86400.0
    return Interactions.from_arrays(
        np.asarray(table.column("userID").to_numpy()),
        np.asarray(table.column("artistID").to_numpy()),
        seconds,
    )


def yoochoose(path: str | os.PathLike[str]) -> Interactions:
    """YOOCHOOSE clicks in session-rec's prepared format (``SessionId\\tItemId\\tTime``
    header): the session is the user key. No stable official download exists: give the
    file."""
    return read_interactions(
        path, user_col="SessionId", item_col="ItemId", time_col="Time", sep="\t"
    )


def diginetica(path: str | os.PathLike[str]) -> Interactions:
    """DIGINETICA ``train-item-views.csv`` (``session_id;user_id;item_id;timeframe;
    eventdate``): the session is the user key; time = event date (UTC) + timeframe (ms),
    which orders views within a session. No stable official download exists: give the file."""
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"diginetica: {p} does not exist; check the path")
    table = pacsv.read_csv(p, parse_options=pacsv.ParseOptions(delimiter=";"))
    date = pc.cast(pc.cast(table.column("eventdate"), "timestamp[s]"), "int64")
    seconds = np.asarray(date.to_numpy(), dtype=np.float64) + (
        np.asarray(table.column("timeframe").to_numpy(), dtype=np.float64) / 1000.0
    )
    return Interactions.from_arrays(
        np.asarray(table.column("session_id").to_numpy()),
        np.asarray(table.column("item_id").to_numpy()),
        seconds,
    )
