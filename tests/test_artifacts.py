"""Generation stores: readers see one whole save, killed saves leave the model loadable, and
incomplete or inconsistent directories are refused at load (GitHub issue #14)."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from embedrec import Embeddings, Item2Vec
from embedrec import artifacts as art
from embedrec.artifacts import (
    check_npy,
    load_consistent,
    publish_artifact,
    read_json,
    resolve_artifact,
    write_files_table,
)
from embedrec.index import build_index, load_index
from embedrec.vectors import read_keys_vectors

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (POSIX)")


def _processes() -> Any:
    """Child processes forked from a single-threaded server, not from pytest's process:
    forking a process with threads (numba's, the readers') can deadlock the child, and Python
    3.12 warns of it. The server imports the library once, so each child starts quickly."""
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["numpy", "embedrec", "embedrec.artifacts"])
    return ctx


#: what an Embeddings save does, in order; a kill after any step must leave a loadable model
EMBEDDINGS_SAVE_STEPS = [
    "staging-created",
    "file-written:vectors.npy",
    "file-written:keys.json",
    "file-written:manifest.json",
    "files-table-written",
    "staging-renamed",
    "dir-fsynced",
    "current-temp-written",
    "current-replaced",
    "cleaned-up",
]


# ---------------------------------------------------------------------------------- planted data
def planted(gen: int) -> Embeddings:
    """Generation ``gen``: 3 + gen % 5 keys ``g{gen}_k{i}``, row i filled with gen * 1000 + i,
    so keys, vectors and their count each tell which save they came from."""
    n = 3 + gen % 5
    vectors = np.repeat(gen * 1000.0 + np.arange(n, dtype=np.float64)[:, None], 4, axis=1)
    return Embeddings([f"g{gen}_k{i}" for i in range(n)], vectors)


def planted_item2vec(gen: int) -> Item2Vec:
    emb = planted(gen)
    return Item2Vec.from_vectors(
        emb, counts=np.full(len(emb), gen), output_weights=emb.vectors * 2.0
    )


def generation_of(emb: Embeddings) -> int:
    """The one generation ``emb`` came from; fails on any mix of two saves."""
    gens = {int(str(k).split("_")[0][1:]) for k in emb.keys}
    assert len(gens) == 1, f"keys of several saves: {sorted(gens)}"
    (gen,) = gens
    expected = planted(gen)
    assert emb.keys == expected.keys, "keys of one save with the key count of another"
    assert_array_equal(emb.vectors, expected.vectors)
    return gen


def item2vec_generation_of(model: Item2Vec) -> int:
    gen = generation_of(model.embeddings_)
    assert model.output_weights_ is not None
    assert_array_equal(model.output_weights_, model.embeddings_.vectors * 2.0)
    assert model.vocab_ is not None
    assert set(model.vocab_.counts.tolist()) == {gen}
    return gen


def entries(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


# ---------------------------------------------------------------------------------- concurrency
def _saver(path: str, kind: str, stop: Any, saves: Any) -> None:
    gen = 2
    while not stop.is_set():
        if kind == "embeddings":
            planted(gen).save(path)
        else:
            planted_item2vec(gen).save(path)
        saves.value = gen
        gen += 1
    os._exit(0)  # leave at once, without the interpreter's shutdown


@pytest.mark.parametrize(
    ("kind", "n_loads"),
    [("embeddings", 1600), ("item2vec", 800)],
)
def test_loads_during_saves_see_one_whole_generation(tmp_path: Path, kind: str, n_loads: int):
    """A process re-saves the model in a loop while reader threads load it: every load is one
    save's keys, vectors (and output vectors and counts), never a mix and never a failure."""
    path = tmp_path / "model"
    load: Callable[[Path], int]
    if kind == "embeddings":
        planted(1).save(path)
        load = lambda p: generation_of(Embeddings.load(p))  # noqa: E731
    else:
        planted_item2vec(1).save(path)
        load = lambda p: item2vec_generation_of(Item2Vec.load(p))  # noqa: E731
    ctx = _processes()
    stop, saves = ctx.Event(), ctx.Value("i", 1)
    saver = ctx.Process(target=_saver, args=(str(path), kind, stop, saves))
    saver.start()
    seen: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reader(n: int) -> None:
        for _ in range(n):
            try:
                gen = load(path)
            except BaseException as exc:  # every failure is a finding
                with lock:
                    errors.append(exc)
                continue
            with lock:
                seen.append(gen)

    try:
        threads = [threading.Thread(target=reader, args=(n_loads // 4,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        saver.join(timeout=60)
    assert saver.exitcode == 0
    assert not errors, [repr(e) for e in errors[:5]]
    assert len(seen) == n_loads
    assert len(set(seen)) > 2, "the saver published too few generations to test anything"
    # the store keeps the live generation and the one before it, nothing else
    names = entries(path)
    assert names[:2] == [".lock", "CURRENT"] and len(names) == 4
    assert (
        generation_of(
            Embeddings.load(path) if kind == "embeddings" else Item2Vec.load(path).embeddings_
        )
        == saves.value
    )


def test_load_consistent_retries_when_the_generation_it_reads_is_replaced(tmp_path: Path):
    path = tmp_path / "e"
    planted(1).save(path)
    calls: list[Path] = []

    def read(directory: Path) -> Embeddings:
        calls.append(directory)
        if len(calls) == 1:
            # two saves land while this read is under way: its generation is deleted
            planted(2).save(path)
            planted(3).save(path)
            assert not directory.exists()
        return Embeddings.load(directory)

    assert generation_of(load_consistent(path, read)) == 3
    assert [c.name for c in calls] == ["gen-000001", "gen-000003"]
    # an error of a generation that is still current is not retried
    with pytest.raises(ValueError, match="boom"):
        load_consistent(path, lambda d: (_ for _ in ()).throw(ValueError("boom")))


# ---------------------------------------------------------------------------------- kills
def _record_steps(fn: Callable[[], None]) -> list[str]:
    steps: list[str] = []
    art.save_hook = steps.append
    try:
        fn()
    finally:
        art.save_hook = None
    return steps


def _save_killed_at(step: int, path: str, gen: int) -> None:  # pragma: no cover - the child
    """Save ``planted(gen)`` to ``path``, SIGKILLing this process right after save step
    ``step``."""
    count = [0]

    def hook(name: str) -> None:
        count[0] += 1
        if count[0] == step:
            os.kill(os.getpid(), signal.SIGKILL)

    art.save_hook = hook
    try:
        planted(gen).save(path)
    finally:
        os._exit(3)  # not killed: the step list is shorter than the test thinks


def _killed_at(step: int, path: Path, gen: int) -> None:
    """Save ``planted(gen)`` to ``path`` in a child process that SIGKILLs itself right after
    save step ``step``."""
    child = _processes().Process(target=_save_killed_at, args=(step, str(path), gen))
    child.start()
    child.join(timeout=120)
    assert child.exitcode == -signal.SIGKILL, child.exitcode


def _plant_old_style_leftovers(path: Path) -> list[Path]:
    """What a save of embedrec before generations left when it was killed."""
    left = [path.parent / f".{path.name}.ab12cd34.tmp", path.parent / f".{path.name}.x9y8z7w6.old"]
    for d in left:
        d.mkdir()
        (d / "vectors.npy").write_bytes(b"half")
    return left


def test_the_save_steps_are_the_documented_ones(tmp_path: Path):
    planted(1).save(tmp_path / "e")
    assert _record_steps(lambda: planted(2).save(tmp_path / "e")) == EMBEDDINGS_SAVE_STEPS


@pytest.mark.parametrize("step", range(1, len(EMBEDDINGS_SAVE_STEPS) + 1))
def test_kill_at_every_save_step_leaves_the_old_or_the_new_model(tmp_path: Path, step: int):
    path = tmp_path / "e"
    planted(1).save(path)
    planted(2).save(path)
    leftovers = _plant_old_style_leftovers(path)
    _killed_at(step, path, 3)
    live, _ = resolve_artifact(path)
    gen = generation_of(Embeddings.load(path))
    # the new generation is live exactly from the CURRENT swap on
    assert gen == (3 if step >= EMBEDDINGS_SAVE_STEPS.index("current-replaced") + 1 else 2)
    # the next save removes what the killed one left: staging, unreferenced generations,
    # the CURRENT temporary and the old-style siblings
    planted(4).save(path)
    assert generation_of(Embeddings.load(path)) == 4
    names = entries(path)
    assert names[:2] == [".lock", "CURRENT"]
    assert set(names[2:]) == {resolve_artifact(path)[1], live.name}  # new + the one it replaced
    assert not any(d.exists() for d in leftovers)
    assert entries(tmp_path) == ["e"]


def _legacy_dir(path: Path, gen: int) -> None:
    """A flat model directory as embedrec wrote it before generations (no files table)."""
    tmp = path.parent / "tmp-store"
    planted(gen).save(tmp)
    shutil.copytree(resolve_artifact(tmp)[0], path)
    shutil.rmtree(tmp)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["files"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    build_index(planted(gen)).write_dir(path / "index")  # `index build` wrote index/ inside


def test_conversion_steps(tmp_path: Path):
    _legacy_dir(tmp_path / "e", 1)
    steps = _record_steps(lambda: planted(2).save(tmp_path / "e"))
    assert steps == [*EMBEDDINGS_SAVE_STEPS[:-1], "legacy-removed", "cleaned-up"]


@pytest.mark.parametrize("step", range(1, len(EMBEDDINGS_SAVE_STEPS) + 2))
def test_kill_at_every_step_of_converting_a_flat_directory(tmp_path: Path, step: int):
    path = tmp_path / "e"
    _legacy_dir(path, 1)
    _killed_at(step, path, 2)
    gen = generation_of(Embeddings.load(path))
    assert gen == (2 if step >= EMBEDDINGS_SAVE_STEPS.index("current-replaced") + 1 else 1)
    planted(3).save(path)
    assert generation_of(Embeddings.load(path)) == 3
    names = entries(path)
    assert names[:2] == [".lock", "CURRENT"] and all(n.startswith("gen-") for n in names[2:])
    assert len(names) == (4 if gen == 2 else 3)  # the flat files are gone, never a generation


# ---------------------------------------------------------------------------------- layouts
def test_flat_directory_loads_and_a_save_converts_it(tmp_path: Path):
    path = tmp_path / "e"
    _legacy_dir(path, 1)
    assert resolve_artifact(path) == (path, None)
    assert generation_of(Embeddings.load(path)) == 1
    assert read_keys_vectors(path)[0] == planted(1).keys
    assert len(load_index(path / "index")) == len(planted(1))
    planted(2).save(path)
    assert entries(path) == [".lock", "CURRENT", "gen-000001"]
    assert generation_of(Embeddings.load(path)) == 2
    # a generation directory is itself a flat directory: it loads, but is never saved into
    assert generation_of(Embeddings.load(path / "gen-000001")) == 2
    with pytest.raises(FileExistsError, match="generation"):
        planted(3).save(path / "gen-000001")


def test_foreign_directory_is_refused_and_kept(tmp_path: Path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not an embedrec artifact"):
        planted(1).save(tmp_path / "mine")
    assert entries(tmp_path / "mine") == ["notes.txt"]


def test_index_save_is_a_store_too(tmp_path: Path):
    build_index(planted(1)).save(tmp_path / "ix")
    build_index(planted(2)).save(tmp_path / "ix")
    assert entries(tmp_path / "ix") == [".lock", "CURRENT", "gen-000001", "gen-000002"]
    assert load_index(tmp_path / "ix").keys == planted(2).keys


@pytest.mark.parametrize(
    ("umask", "file_mode", "dir_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_artifacts_get_the_umask_permissions(
    tmp_path: Path, umask: int, file_mode: int, dir_mode: int
):
    old = os.umask(umask)
    try:
        planted(1).save(tmp_path / "e")
        planted(2).save(tmp_path / "e")
        build_index(planted(2)).save(tmp_path / "e-index")
    finally:
        os.umask(old)
    for store in (tmp_path / "e", tmp_path / "e-index"):
        paths = [store, *store.rglob("*")]
        assert len(paths) > 5
        for p in paths:
            mode = stat.S_IMODE(p.stat().st_mode)
            assert mode == (dir_mode if p.is_dir() else file_mode), (p, oct(mode))


# ---------------------------------------------------------------------------------- refusals
def _gen(path: Path) -> Path:
    return resolve_artifact(path)[0]


def _edit_manifest(directory: Path, **fields: Any) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.update(fields)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def _huge_header_npy(path: Path) -> None:
    """A .npy whose header claims a (50_000_000, 1000) float32 array: 186 GiB."""
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f4", "fortran_order": False, "shape": (50_000_000, 1000)}
        )
        fh.write(b"\0" * 64)


def _damage(case: str, d: Path) -> None:
    vec = d / "vectors.npy"
    if case == "no_vectors":
        vec.unlink()
    elif case == "no_keys":
        (d / "keys.json").unlink()
    elif case == "shape":
        np.save(vec, np.zeros((2, 4), np.float32))
    elif case == "dtype":
        np.save(vec, np.load(vec).astype(np.float64))
    elif case == "checksum":
        data = bytearray(vec.read_bytes())
        data[-1] ^= 0xFF
        vec.write_bytes(bytes(data))
    elif case == "nan":
        arr = np.load(vec)
        arr[1, 2] = np.nan
        np.save(vec, arr)
        write_files_table(d)  # a consistent table: only the NaN is wrong
    elif case == "empty_npy":
        vec.write_bytes(b"")
    elif case == "huge_header":
        _huge_header_npy(vec)
    elif case == "deep_manifest":
        (d / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    elif case == "deep_keys":
        (d / "keys.json").write_text("[" * 100_000 + "]" * 100_000)
    elif case.startswith("version_"):
        _edit_manifest(d, format_version={"99": 99, "x": "x", "-1": -1}[case.split("_")[1]])
    elif case == "negative_count":
        _edit_manifest(d, n_keys=-1)
    elif case == "dim_0":
        _edit_manifest(d, dim=0)
    elif case == "unlisted_file":
        np.save(d / "extra.npy", np.zeros(3))
    elif case == "table_escapes":
        manifest = json.loads((d / "manifest.json").read_text())
        manifest["files"]["../../etc/passwd"] = manifest["files"]["keys.json"]
        (d / "manifest.json").write_text(json.dumps(manifest))
    else:
        raise AssertionError(case)


DAMAGES = {
    "no_vectors": r"vectors\.npy is missing|no vectors\.npy",
    "no_keys": r"keys\.json is missing|no keys\.json",
    "shape": r"vectors\.npy holds an array of shape \(2, 4\) but manifest\.json says \(7, 4\)",
    "dtype": r"vectors\.npy holds float64 data but manifest\.json says <f4",
    "checksum": r"vectors\.npy is corrupt: its SHA-256 checksum does not match",
    "nan": r"vectors\.npy holds NaN or infinite values",
    "empty_npy": r"vectors\.npy is not a valid numeric \.npy array \(the file is empty\)",
    "huge_header": r"vectors\.npy is not a valid numeric \.npy array: its header describes .* "
    r"\(200000000000 bytes of data\) but the file holds 64 bytes",
    "deep_manifest": r"manifest\.json nests JSON .* too deeply",
    # with a files table the size differs first; a flat directory reaches the JSON parser
    "deep_keys": r"keys\.json is corrupt: it has 200000 bytes|keys\.json nests JSON .* too deeply",
    "version_99": r"format_version=99; this embedrec reads versions <= 1: upgrade embedrec",
    "version_x": r"format_version='x', which is not a version embedrec ever wrote",
    "version_-1": r"format_version=-1, which is not a version embedrec ever wrote",
    "negative_count": r"n_keys=-1; a count is a non-negative int",
    "dim_0": r"dim=0; a dimension is a positive int",
    "unlisted_file": r"extra\.npy is not listed in .*manifest\.json",
    "table_escapes": r"'\.\./\.\./etc/passwd' is not a relative path inside it",
}


@pytest.mark.parametrize("case", sorted(DAMAGES))
def test_damaged_generation_is_refused_with_a_clear_error(tmp_path: Path, case: str):
    path = tmp_path / "e"
    planted(1).save(path)
    # another generation first, so the refusals name the live one, not a leftover
    planted(4).save(path)
    _damage(case, _gen(path))
    with pytest.raises(ValueError, match=DAMAGES[case]) as err:
        Embeddings.load(path)
    assert "re-save" in str(err.value) or "upgrade embedrec" in str(err.value)


@pytest.mark.parametrize("case", ["empty_npy", "huge_header", "no_vectors", "deep_keys"])
def test_flat_directory_damage_is_refused_too(tmp_path: Path, case: str):
    """The checks behind the files table: what a directory saved before it gets."""
    path = tmp_path / "flat"
    _legacy_dir(path, 1)
    _damage(case, path)
    with pytest.raises(ValueError, match=DAMAGES[case]):
        Embeddings.load(path)
    with pytest.raises(ValueError, match=DAMAGES[case]):
        read_keys_vectors(path)


def test_npy_and_json_readers_never_raise_eof_or_memory_errors(tmp_path: Path):
    (tmp_path / "empty.npy").write_bytes(b"")
    _huge_header_npy(tmp_path / "huge.npy")
    np.save(tmp_path / "cut.npy", np.ones((100, 4), np.float32))
    data = (tmp_path / "cut.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-7])
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    for name in ("empty", "huge", "cut", "obj"):
        with pytest.raises(ValueError, match=r"not a valid numeric \.npy array"):
            check_npy(tmp_path / f"{name}.npy")
    (tmp_path / "big.json").write_text(" " * 2000 + "{}")
    with pytest.raises(ValueError, match="more than the 1000"):
        read_json(tmp_path / "big.json", max_bytes=1000)


def test_item2vec_without_its_output_vectors_is_refused_at_load(tmp_path: Path):
    path = tmp_path / "i2v"
    planted_item2vec(1).save(path)
    out = _gen(path) / "output_vectors.npy"
    out.unlink()
    with pytest.raises(ValueError, match=r"output_vectors\.npy is missing"):
        Item2Vec.load(path)
    # also when the table does not list it (a directory saved before the table)
    manifest = json.loads((_gen(path) / "manifest.json").read_text())
    del manifest["files"]
    (_gen(path) / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=r"output_vectors\.npy is missing"):
        Item2Vec.load(path)
    # a model that scores by cosine does not need them
    cosine = Item2Vec.from_vectors(planted(1))
    cosine.save(tmp_path / "cos")
    assert Item2Vec.load(tmp_path / "cos").recommend(["g1_k0"], k=2).keys.size == 2


@pytest.mark.parametrize(
    ("pointer", "match"),
    [
        ("../../etc\n", "corrupt CURRENT pointer"),
        ("gen-1\n", "corrupt CURRENT pointer"),
        ("gen-000001/../../x\n", "corrupt CURRENT pointer"),
        ("", "corrupt CURRENT pointer"),
        ("gen-000042\n", "names generation gen-000042, which does not exist"),
    ],
)
def test_bad_current_pointer_is_refused(tmp_path: Path, pointer: str, match: str):
    path = tmp_path / "e"
    planted(1).save(path)
    (path / "CURRENT").write_text(pointer)
    for load in (Embeddings.load, resolve_artifact, read_keys_vectors):
        with pytest.raises(ValueError, match=match):
            load(path)


def test_a_save_repairs_a_corrupt_pointer(tmp_path: Path):
    path = tmp_path / "e"
    planted(1).save(path)
    (path / "CURRENT").write_text("../../etc\n")
    with pytest.raises(ValueError, match=r"corrupt CURRENT pointer.*re-save the model"):
        Embeddings.load(path)
    planted(2).save(path)  # the fix the message names
    assert generation_of(Embeddings.load(path)) == 2
    assert entries(path) == [".lock", "CURRENT", "gen-000002"]


def test_publish_refuses_a_body_without_manifest_and_changes_nothing(tmp_path: Path):
    planted(1).save(tmp_path / "e")
    with pytest.raises(RuntimeError, match=r"no manifest\.json"), publish_artifact(tmp_path / "e"):
        pass
    assert entries(tmp_path / "e") == [".lock", "CURRENT", "gen-000001"]
    assert generation_of(Embeddings.load(tmp_path / "e")) == 1


def test_a_diverged_model_never_replaces_a_good_generation(tmp_path):
    """Saving NaN output vectors used to publish a generation that could not be loaded again
    (Embeddings already refuse NaN when constructed)."""
    from embedrec import Item2VecConfig

    model = Item2Vec(Item2VecConfig(dim=8, epochs=1, workers=1, seed=1))
    model.fit([[1, 2, 3], [2, 3, 4], [1, 3, 4]] * 5, progress=False)
    model.save(tmp_path / "m")
    before = Item2Vec.load(tmp_path / "m").output_weights_.copy()
    model.output_weights_[0, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"output_vectors holds 1 NaN or infinite.*nothing was saved"
    ):
        model.save(tmp_path / "m")
    assert_array_equal(Item2Vec.load(tmp_path / "m").output_weights_, before)
