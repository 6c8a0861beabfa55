"""numba compile cost: the first training call in a fresh cache, then a second process.

Usage: python benchmarks/bench_compile.py

Process 1 starts with an empty ``NUMBA_CACHE_DIR`` and times ``import embedrec`` and the
first ``fit`` (which compiles the kernels it needs); process 2 reuses the cache. The
"overhead" is the fit time minus the same fit's time once everything is loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import json, time
t0 = time.perf_counter()
import embedrec
from embedrec import Word2Vec, Word2VecConfig
t_import = time.perf_counter() - t0
sents = [["a", "b", "c", "d", "e"], ["b", "c", "d", "e", "a"]] * 50
cfg = Word2VecConfig(dim=16, min_count=1, epochs=1, workers=2)
t1 = time.perf_counter()
Word2Vec(cfg).fit(sents, progress=False)
t_first = time.perf_counter() - t1
t2 = time.perf_counter()
Word2Vec(cfg).fit(sents, progress=False)
t_again = time.perf_counter() - t2
print(json.dumps({"import_s": t_import, "first_fit_s": t_first, "warm_fit_s": t_again}))
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        for label in ("fresh cache", "second process"):
            out = subprocess.run(
                [sys.executable, "-c", CHILD], env=env, check=True, capture_output=True, text=True
            ).stdout
            r = json.loads(out)
            overhead = r["first_fit_s"] - r["warm_fit_s"]
            print(
                f"{label:15s} import {r['import_s']:.2f}s  first fit {r['first_fit_s']:.2f}s"
                f"  (compile/load overhead {overhead:.2f}s)"
            )


if __name__ == "__main__":
    main()
