"""Fixtures of the service tests: small trained models saved to tmp dirs, and real servers.

A :class:`Server` is ``python -m embedrec serve DIR --port P`` in a subprocess (uvicorn on
loopback); tests talk to it over HTTP with httpx, as a client would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from embedrec import Item2Vec, Item2VecConfig, Word2Vec, Word2VecConfig
from embedrec.data.synthetic import topic_corpus

SRC = Path(__file__).resolve().parents[2] / "src"
#: the admin token of the test servers that serve /admin
TOKEN = "test-admin-token-0123456789"


def train_word2vec(seed: int = 0) -> Word2Vec:
    """Word2Vec on the planted topic corpus: 200 str keys (t{topic}_w{j}), dim 16."""
    sentences, _ = topic_corpus(n_sentences=1500, seed=seed)
    cfg = Word2VecConfig(dim=16, epochs=3, min_count=1, sample=0.0, workers=1, seed=seed + 1)
    return Word2Vec(cfg).fit(sentences, progress=False)


def planted_log(n_clusters: int = 6, per_cluster: int = 12, n_users: int = 300, seed: int = 0):
    """Users each draw a history from one cluster of int items ``100 * c + j``."""
    rng = np.random.default_rng(seed)
    users = []
    for _ in range(n_users):
        c = int(rng.integers(n_clusters))
        items = rng.choice(per_cluster, size=8, replace=False)
        users.append([100 * c + int(j) for j in items])
    return users


def train_item2vec(seed: int = 0) -> Item2Vec:
    cfg = Item2VecConfig(dim=16, epochs=5, workers=1, seed=seed + 1)
    return Item2Vec(cfg).fit(planted_log(seed=seed), progress=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``embedrec serve`` as a real process on a loopback port."""

    def __init__(
        self,
        artifact: Path,
        *args: str,
        log: Path,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        env = dict(
            os.environ,
            PYTHONPATH=str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""),
            **(env or {}),
        )
        cmd = [sys.executable, "-m", "embedrec", "serve", str(artifact), "--port", str(self.port)]
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [*cmd, "--no-access-log", *args], stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        self.client = httpx.Client(base_url=self.url, timeout=10.0)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server did not answer /healthz in {timeout}s:\n{self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.get(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.client.post(path, **kw)

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def wait_generation(self, generation: int, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.get("/healthz").json()["generation"] < generation:
            if time.monotonic() > deadline:
                raise AssertionError(f"generation {generation} not reached:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture(scope="session")
def w2v_model() -> Word2Vec:
    return train_word2vec()


@pytest.fixture(scope="session")
def w2v_dir(w2v_model: Word2Vec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("w2v") / "model"
    w2v_model.save(path)
    return path


@pytest.fixture(scope="session")
def i2v_model() -> Item2Vec:
    return train_item2vec()


@pytest.fixture(scope="session")
def i2v_dir(i2v_model: Item2Vec, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("i2v") / "model"
    i2v_model.save(path)
    return path


#: caps of the Word2Vec server, small so that every cap is cheap to hit
CAPS = {"max_k": 50, "max_batch": 20, "max_history": 10}


@pytest.fixture(scope="session")
def w2v_server(w2v_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "w2v-server.log"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in CAPS.items()]
    server = Server(w2v_dir, *flags, log=log)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def i2v_server(i2v_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "i2v-server.log"
    server = Server(i2v_dir, log=log)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A STAN model (a session baseline: no item vectors, reads times) on synthetic sessions
    over 40 int items."""
    from embedrec.data import Interactions
    from embedrec.data.synthetic import session_log
    from embedrec.models import STAN

    users, items, times = session_log(n_sessions=300, n_items=40, seed=4)
    path = tmp_path_factory.mktemp("stan") / "model"
    STAN().fit(Interactions.from_arrays(users, items, times)).save(path)
    return path


@pytest.fixture(scope="session")
def stan_server(stan_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("logs") / "stan-server.log"
    server = Server(stan_dir, log=log)
    yield server
    server.stop()
