"""embedrec.index resolves its public names lazily (embedrec.vectors imports index.topk, and
the index modules import embedrec.vectors)."""

from __future__ import annotations

import subprocess
import sys


def test_topk_alone_imports_no_index_module():
    code = (
        "import sys, embedrec.index.topk;"
        "print(sorted(m for m in sys.modules if m.startswith('embedrec.index.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['embedrec.index.topk']"


def test_public_names_resolve_to_their_homes():
    import embedrec.index as ix
    import embedrec.index.recall  # noqa: F401  (a submodule named like no public function)
    from embedrec.index import INDEX_KINDS, ExactIndex, Index, build_index, format_sweep, sweep
    from embedrec.index.base import Index as BaseIndex
    from embedrec.index.recall import sweep as recall_sweep
    from embedrec.index.registry import build_index as registry_build

    assert Index is BaseIndex and issubclass(ExactIndex, Index)
    assert sweep is recall_sweep and callable(format_sweep)
    assert build_index is registry_build and "exact" in INDEX_KINDS
    assert set(ix.__all__) <= set(dir(ix))
