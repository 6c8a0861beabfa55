"""Train the planted two-tower model; run directly (one process) or under torchrun (DDP).

Usage: python ddp_train.py OUT_DIR   |   torchrun --nproc-per-node 2 ddp_train.py OUT_DIR
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from embedrec.eval import leave_last_out
from embedrec.models.two_tower import FeatureSpec, TowerConfig
from embedrec.models.two_tower.model import TwoTower, TwoTowerConfig, init_distributed
from tests.models.two_tower.planted import planted_log


def main(out: str) -> None:
    rank, world = init_distributed()
    log, _, _, _ = planted_log()
    split = leave_last_out(log)
    cfg = TwoTowerConfig(
        user=TowerConfig(
            features=(
                FeatureSpec(name="user", kind="id"),
                FeatureSpec(name="history", kind="history"),
            ),
            embedding_dim=16,
            hidden=(32,),
            output_dim=16,
        ),
        item=TowerConfig(
            features=(FeatureSpec(name="item", kind="id"),),
            embedding_dim=16,
            hidden=(),
            output_dim=16,
        ),
        epochs=15,
        # per process: two processes see the same number of examples per step as one with 128
        batch_size=128 // world,
        lr=0.01,
        patience=0,
        seed=3,
    )
    model = TwoTower(cfg).fit(split.train, valid=split.valid, progress=False)
    if rank == 0:
        model.save(out)
    if world > 1:
        import torch.distributed as tdist

        tdist.barrier()
        tdist.destroy_process_group()
        # Leave without the interpreter's teardown: under load, gloo's threads have once
        # aborted a rank there ("terminate called without an active exception") after the
        # model was saved and both ranks had passed the barrier.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
