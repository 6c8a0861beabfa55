"""Two processes under torchrun (gloo, CPU) train one model as well as a single process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

from embedrec.eval import evaluate, leave_last_out
from embedrec.models.two_tower.model import TwoTower

from .planted import planted_log

SCRIPT = Path(__file__).with_name("ddp_train.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(args: list[str]) -> None:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_train_as_well_as_one(tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run([sys.executable, str(SCRIPT), str(single)])
    _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes=1",
            "--nproc-per-node=2",
            f"--master-port={_free_port()}",
            str(SCRIPT),
            str(ddp),
        ]
    )
    split = leave_last_out(planted_log()[0])
    one = evaluate(TwoTower.load(single), split.train_full, split.test, ks=(10,))
    two = evaluate(TwoTower.load(ddp), split.train_full, split.test, ks=(10,))
    m = TwoTower.load(ddp)
    # the run really was distributed
    assert [s["world_size"] for s in m.epoch_stats_] == [2] * 15
    assert [s["world_size"] for s in TwoTower.load(single).epoch_stats_] == [1] * 15
    assert one.metrics["Recall@10"] >= 0.9
    assert two.metrics["Recall@10"] >= 0.9
    assert abs(one.metrics["Recall@10"] - two.metrics["Recall@10"]) <= 0.05
