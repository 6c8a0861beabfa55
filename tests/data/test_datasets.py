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


def test_movielens_100k_users(shared_data: SharedData) -> None:
    folder = shared_data.require("movielens-100k", "u.user").parent
    users = datasets.movielens_100k_users(folder)
    assert users.num_rows == 943
    assert [(f.name, str(f.type)) for f in users.schema] == [
        ("user", "int64"),
        ("age", "int64"),
        ("gender", "string"),
        ("occupation", "string"),
        ("zip", "string"),
    ]
    rows = users.to_pylist()
    # lines 1, 9, 74 and 943 of u.user: "1|24|M|technician|85711", "9|29|M|student|01002"
    # (the zip keeps its leading zero), "74|39|M|scientist|T8H1N" (a Canadian postal code),
    # "943|22|M|student|77841"
    assert rows[0] == {
        "user": 1,
        "age": 24,
        "gender": "M",
        "occupation": "technician",
        "zip": "85711",
    }
    assert rows[8]["zip"] == "01002"
    assert (rows[73]["user"], rows[73]["zip"]) == (74, "T8H1N")
    assert rows[942] == {
        "user": 943,
        "age": 22,
        "gender": "M",
        "occupation": "student",
        "zip": "77841",
    }
    assert users.column("user").to_pylist() == list(range(1, 944))
    # counted with awk on u.user: 670 M, 273 F; ages 7..73; 21 occupations (= u.occupation)
    gender = users.column("gender").to_pylist()
    assert (gender.count("M"), gender.count("F")) == (670, 273)
    ages = users.column("age").to_numpy()
    assert (ages.min(), ages.max()) == (7, 73)
    assert len(set(users.column("occupation").to_pylist())) == 21
    assert all(c.null_count == 0 for c in users.columns)
    # every user of the ratings has a row: the keys agree with movielens_100k
    inter = datasets.movielens_100k(folder)
    assert set(inter.user_keys.tolist()) == set(users.column("user").to_pylist())
    # a path to one file of the folder means the folder, as for movielens_100k_items
    assert datasets.movielens_100k_users(folder / "u.data").num_rows == 943


def test_movielens_100k_items_year(shared_data: SharedData) -> None:
    folder = shared_data.require("movielens-100k", "u.item").parent
    items = datasets.movielens_100k_items(folder)
    assert str(items.schema.field("year").type) == "int64"
    rows = {r["item"]: r for r in items.to_pylist()}
    # u.item: "1|Toy Story (1995)|01-Jan-1995|...", "100|Fargo (1996)|14-Feb-1997|..." (the
    # year is the release date's, not the title's), "1373|Good Morning (1971)|4-Feb-1971|..."
    # (a one-digit day), "267|unknown||||..." (no date: the only null)
    assert rows[1]["year"] == 1995
    assert rows[100]["year"] == 1997 and rows[100]["release_date"].year == 1997
    assert rows[1373]["year"] == 1971
    assert rows[267]["year"] is None and rows[267]["release_date"] is None
    assert items.column("year").null_count == 1
    years = [y for y in items.column("year").to_pylist() if y is not None]
    assert (min(years), max(years)) == (1922, 1998)  # Nosferatu (01-Jan-1922) .. 1998
    assert rows[1]["genres"] == "Animation|Children's|Comedy"


def test_movielens_latest_small_items_year(shared_data: SharedData) -> None:
    folder = shared_data.require("movielens-latest-small", "movies.csv").parent
    items = datasets.movielens_latest_small_items(folder)
    assert [f.name for f in items.schema] == ["item", "title", "genres", "year"]
    assert str(items.schema.field("year").type) == "int64"
    rows = {r["item"]: r for r in items.to_pylist()}
    # movies.csv: "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy"
    assert rows[1] == {
        "item": 1,
        "title": "Toy Story (1995)",
        "genres": "Adventure|Animation|Children|Comedy|Fantasy",
        "year": 1995,
    }
    # "193609,Andrew Dice Clay: Dice Rules (1991),Comedy" (the last row)
    assert rows[193609]["year"] == 1991
    # "27008,From Dusk Till Dawn 2: Texas Blood Money (1999) ,..." (trailing space)
    assert rows[27008]["year"] == 1999
    # a range keeps its first year; a title without a year gives null
    assert rows[171749]["title"] == "Death Note: Desu nôto (2006\u20132007)"
    assert rows[171749]["year"] == 2006
    assert rows[40697]["title"] == "Babylon 5" and rows[40697]["year"] is None
    # 12 of the 9,742 titles end without "(yyyy)" (checked with a regex over movies.csv)
    assert items.column("year").null_count == 12
    # a year inside the title is not taken, only the trailing one
    assert all(r["year"] is None or r["title"].rstrip().endswith(")") for r in rows.values())


def test_title_year_parser() -> None:
    import pyarrow as pa

    titles = pa.chunked_array(
        [
            [
                "Heat (1995)",
                "2001: A Space Odyssey (1968)",
                "1984 (1984) ",
                "Show (2006-2008)",
                "No year",
                "Year (1995) inside",
                "(1995)x",
                None,
            ]
        ]
    )
    got = datasets._title_year(titles)
    assert str(got.type) == "int64"
    assert got.to_pylist() == [1995, 1968, 1984, 2006, None, None, None, None]


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


def test_session_datasets_need_a_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDREC_DATA", raising=False)
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
FAKE_U_USER = b"1|24|M|technician|85711\n2|53|F|other|04043\n"


def test_movielens_100k_users_download_is_checksummed_and_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "src" / "ml-100k.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.data", FAKE_U_DATA)
        zf.writestr("ml-100k/u.user", FAKE_U_USER.replace(b"\n", b"\r\n"))
    digests = {
        "u.data": hashlib.sha256(FAKE_U_DATA).hexdigest(),
        "u.user": hashlib.sha256(FAKE_U_USER).hexdigest(),  # CRLF counted as LF
    }
    monkeypatch.setitem(datasets.CHECKSUMS, "ml-100k", digests)
    cache = tmp_path / "cache"
    users = datasets.movielens_100k_users(cache_dir=cache, url=archive.as_uri())
    assert users.to_pylist()[1] == {
        "user": 2,
        "age": 53,
        "gender": "F",
        "occupation": "other",
        "zip": "04043",
    }
    assert _files(cache) == [cache / "ml-100k" / "u.data", cache / "ml-100k" / "u.user"]
    archive.unlink()  # cached: the source is never read again
    assert datasets.movielens_100k_users(cache_dir=cache, url=archive.as_uri()).num_rows == 2
    # the zip itself as path is read in place
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("ml-100k/u.user", FAKE_U_USER)
    assert datasets.movielens_100k_users(tmp_path / "other.zip").num_rows == 2
    with pytest.raises(FileNotFoundError, match=r"holds no u\.user"):
        datasets.movielens_100k_users(tmp_path / "src")


def test_checksum_table_matches_the_shared_u_user(shared_data: SharedData) -> None:
    path = shared_data.require("movielens-100k", "u.user")
    assert datasets.sha256_lf(path) == datasets.CHECKSUMS["ml-100k"]["u.user"]


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


def test_path_none_reads_the_verified_local_copy_under_embedrec_data(
    shared_data: SharedData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared_data.require("movielens-100k", "u.data")
    shared_data.require("yoochoose-100k-sample")
    monkeypatch.setenv("EMBEDREC_DATA", str(shared_data))
    # no download may happen: an unreachable cache and URL would fail
    monkeypatch.setenv("EMBEDREC_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(datasets.URLS, "ml-100k", "http://127.0.0.1:9/none.zip")
    inter = datasets.movielens_100k()
    assert (len(inter), inter.n_users, inter.n_items) == (100_000, 943, 1_682)
    assert not (tmp_path / "cache").exists()
    local = shared_data / "yoochoose-100k-sample"
    assert len(datasets.yoochoose(split="test")) == len(datasets.yoochoose(local, split="test"))


def test_a_local_copy_that_differs_is_refused_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "data" / "movielens-100k"
    folder.mkdir(parents=True)
    (folder / "u.data").write_text("1\t2\t5\t881250949\n")
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path / "data"))
    with pytest.raises(ValueError, match=r"movielens-100k holds a different u.data.*unset"):
        datasets.movielens_100k()
    (folder / "u.data").unlink()
    with pytest.raises(ValueError, match=r"movielens-100k has no u\.data"):
        datasets.movielens_100k()


def test_without_a_local_folder_path_none_uses_the_download_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path / "empty"))
    assert datasets.local_copy("ml-100k") is None
    monkeypatch.delenv("EMBEDREC_DATA")
    assert datasets.local_copy("ml-100k") is None
    monkeypatch.setenv("EMBEDREC_DATA", str(tmp_path))
    (tmp_path / "lastfm-2k").mkdir()
    assert datasets.local_copy("lastfm-2k") == tmp_path / "lastfm-2k"
