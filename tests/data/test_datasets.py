"""Dataset helpers: counts on the shared copies, and the checksummed download path.

The download tests never touch the internet: they serve a zip built in ``tmp_path`` from a
local HTTP server (or a ``file://`` URL) and patch the checksum table to the fake files.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embedrec.data import datasets
from tests.conftest import SharedData

# ---------------------------------------------------------------------- shared copies
# Counts from shared/data/*/SOURCE.md.


def test_movielens_100k(shared_data: SharedData) -> None:
    folder = shared_data.require("movielens-100k", "u.data").parent
    inter = datasets.movielens_100k(folder)
    assert (len(inter), inter.n_users, inter.n_items) == (100_000, 943, 1_682)
    assert inter.user_keys.dtype == np.int64 and inter.item_keys.dtype == np.int64
    assert inter.weight is not None
    stars, counts = np.unique(inter.weight, return_counts=True)
    assert_array_equal(stars, [1, 2, 3, 4, 5])
    # counted with awk on u.data (SOURCE.md's histogram sums to 100,003: it still counts the
    # 3 fake rows removed in cleaning)
    assert_array_equal(counts, [6_110, 11_370, 27_145, 34_174, 21_201])
    liked = datasets.movielens_100k(folder, min_rating=4)
    assert len(liked) == 34_174 + 21_201
    split = datasets.movielens_100k(folder / "u1.base")
    assert len(split) == 80_000
    items = datasets.movielens_100k_items(folder)
    assert items.num_rows == 1_682
    toy = items.slice(0, 1).to_pylist()[0]
    assert toy["title"] == "Toy Story (1995)"
    assert toy["genres"] == "Animation|Children's|Comedy"


def test_movielens_latest_small(shared_data: SharedData) -> None:
    folder = shared_data.require("movielens-latest-small", "ratings.csv").parent
    inter = datasets.movielens_latest_small(folder)
    assert (len(inter), inter.n_users, inter.n_items) == (100_836, 610, 9_724)
    assert inter.weight is not None and float(inter.weight.min()) == 0.5
    assert datasets.movielens_latest_small_items(folder).num_rows == 9_742


def test_lastfm_2k_times_are_utc_midnights(shared_data: SharedData) -> None:
    folder = shared_data.require("lastfm-2k", "user_taggedartists.dat").parent
    inter = datasets.lastfm_2k(folder)
    assert (len(inter), inter.n_users) == (186_479, 1_892)
    assert (inter.time % 86400 == 0).all()
    # the file's first row: user 2 tagged artist 52 on 1 April 2009 = 1238544000 (UTC)
    first = np.flatnonzero((inter.user_keys[inter.user] == 2) & (inter.item_keys[inter.item] == 52))
    assert inter.time[first[0]] == 1_238_544_000.0
    assert len(inter.first_occurrences()) < len(inter)
    assert datasets.lastfm_2k_artists(folder).num_rows == 17_632


def test_yoochoose(shared_data: SharedData) -> None:
    file = shared_data.require("yoochoose-100k-sample", "yoochoose-clicks-100k_train_full.txt")
    inter = datasets.yoochoose(file)
    assert (len(inter), inter.n_users, inter.n_items) == (70_278, 17_794, 2_933)
    assert abs(inter.time.min() - 1396314141.7) < 0.05
    assert abs(inter.time.max() - 1396831392.6) < 0.05
    test = datasets.yoochoose(file.parent, split="test")
    assert (len(test), test.n_users, test.n_items) == (13_568, 3_416, 1_771)


def test_diginetica_orders_sessions_by_timeframe(shared_data: SharedData) -> None:
    file = shared_data.require("diginetica-sample", "sample_train-item-views.csv")
    inter = datasets.diginetica(file)
    assert (len(inter), inter.n_users, inter.n_items) == (12_391, 2_986, 7_139)
    # session 629 passes midnight (2016-03-20 -> 21): its views stay in timeframe order and
    # no gap of a day is invented between them (timeframes span ~20 minutes)
    s = int(np.flatnonzero(inter.user_keys == 629)[0])
    off = inter.user_offsets()
    times = inter.time[off[s] : off[s + 1]]
    assert len(times) == 17 and (np.diff(times) > 0).all()
    assert times[-1] - times[0] == pytest.approx((1184885 - 13879) / 1000)
    assert len(inter.sequences(session_gap=3600)) == 2_986


def test_session_datasets_need_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no stable official download URL"):
        datasets.yoochoose()
    with pytest.raises(ValueError, match="no stable official download URL"):
        datasets.diginetica()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.yoochoose(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="matching"):
        datasets.diginetica(tmp_path)


def test_local_path_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"does not exist; pass the folder holding u\.data"):
        datasets.movielens_100k(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match=r"holds no u\.data"):
        datasets.movielens_100k(tmp_path)


# ---------------------------------------------------------------------- download path
FAKE_U_DATA = b"1\t10\t5\t100\n2\t10\t3\t50\n1\t20\t4\t90\n"


def _fake_zip(folder: Path, content: bytes = FAKE_U_DATA, member: str = "ml-100k/u.data") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "ml-100k.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, content)
        zf.writestr("ml-100k/README", b"fake")
    return path


@pytest.fixture
def fake_checksums(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = hashlib.sha256(FAKE_U_DATA).hexdigest()
    monkeypatch.setitem(datasets.CHECKSUMS, "ml-100k", {"u.data": digest})


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, folder it serves) of a local HTTP server."""
    root = tmp_path / "srv"
    root.mkdir()
    handler = functools.partial(_Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.usefixtures("fake_checksums")
def test_download_verifies_caches_and_reuses(
    tmp_path: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    _fake_zip(root)
    cache = tmp_path / "cache"
    inter = datasets.movielens_100k(cache_dir=cache, url=f"{base}/ml-100k.zip")
    # users 1 (t90 item 20, t100 item 10) and 2 (t50 item 10)
    assert inter.sequences().to_lists() == [[20, 10], [10]]
    assert _files(cache) == [cache / "ml-100k" / "u.data"]
    # cached: a dead URL is never contacted again; $EMBEDREC_CACHE names the same folder
    monkeypatch.setenv("EMBEDREC_CACHE", str(cache))
    again = datasets.movielens_100k(url="http://127.0.0.1:1/gone.zip")
    assert len(again) == 3
    assert datasets.cache_root() == cache


@pytest.mark.usefixtures("fake_checksums")
def test_download_from_file_url_and_zip_path(tmp_path: Path) -> None:
    archive = _fake_zip(tmp_path / "src")
    inter = datasets.movielens_100k(cache_dir=tmp_path / "cache", url=archive.as_uri())
    assert len(inter) == 3
    from_zip = datasets.movielens_100k(archive)  # a path to the zip is read in place
    assert len(from_zip) == 3


@pytest.mark.usefixtures("fake_checksums")
def test_checksum_mismatch_leaves_nothing_in_the_cache(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    base, root = server
    _fake_zip(root, content=FAKE_U_DATA + b"3\t30\t1\t1\n")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"checksum mismatch for u\.data of ml-100k"):
        datasets.movielens_100k(cache_dir=cache, url=f"{base}/ml-100k.zip")
    assert _files(cache) == []
    assert not (cache / "ml-100k").exists()


@pytest.mark.usefixtures("fake_checksums")
def test_line_endings_do_not_change_the_checksum(tmp_path: Path) -> None:
    archive = _fake_zip(tmp_path / "src", content=FAKE_U_DATA.replace(b"\n", b"\r\n"))
    inter = datasets.movielens_100k(cache_dir=tmp_path / "cache", url=archive.as_uri())
    assert len(inter) == 3


def test_sha256_lf_handles_crlf_across_chunks(tmp_path: Path) -> None:
    body = b"x" * ((1 << 20) - 1) + b"\r\nend\r\n\r"  # the first CRLF straddles two chunks
    crlf, lf = tmp_path / "crlf", tmp_path / "lf"
    crlf.write_bytes(body)
    lf.write_bytes(body.replace(b"\r\n", b"\n"))
    assert datasets.sha256_lf(crlf) == datasets.sha256_lf(lf)
    assert datasets.sha256_lf(lf) == hashlib.sha256(lf.read_bytes()).hexdigest()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.usefixtures("fake_checksums")
def test_unreachable_url_gives_the_by_hand_message(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    cache = tmp_path / "cache"
    url = f"http://127.0.0.1:{_closed_port()}/ml-100k.zip"
    with pytest.raises(ConnectionError, match=r"could not download ml-100k from .*no internet\?"):
        datasets.movielens_100k(cache_dir=cache, url=url)
    base, _ = server
    with pytest.raises(
        ConnectionError, match=r"404.*pass path=\.\.\. \(the folder holding u\.data"
    ):
        datasets.movielens_100k(cache_dir=cache, url=f"{base}/missing.zip")
    assert _files(cache) == []


@pytest.mark.usefixtures("fake_checksums")
def test_download_that_is_not_a_zip_or_lacks_the_file(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    base, root = server
    (root / "page.zip").write_text("<html>login</html>")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="is not a zip file"):
        datasets.movielens_100k(cache_dir=cache, url=f"{base}/page.zip")
    _fake_zip(root, member="ml-100k/other.data")
    with pytest.raises(ValueError, match=r"holds no u\.data"):
        datasets.movielens_100k(cache_dir=cache, url=f"{base}/ml-100k.zip")
    assert _files(cache) == []
