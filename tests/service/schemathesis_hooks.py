"""Schemathesis hooks of ``test_schemathesis.py`` (loaded through ``$SCHEMATHESIS_HOOKS``).

The service's one request rule that JSON Schema cannot state is that ``times`` has one entry
per ``history`` key (the field's description says so; a mismatch is a 422). A *positive*
case, which schemathesis expects the service to accept, is made to follow it; negative cases
are sent as generated.

The admin run (``EMBEDREC_FUZZ_OUTSIDE`` set to an artifact outside every reload root) also
gives most positive ``POST /admin/reload`` cases a path from :data:`RELOAD_PATHS` or that
artifact's absolute path: a name under the test's reload root, which must load, and ways out
of the roots, which must all be refused. The rest keep their generated path.
"""

from __future__ import annotations

import os
import zlib
from typing import Any

import schemathesis

RELOAD_PATHS = (
    "alt",
    "./alt",
    "alt/",
    "../outside/secret",
    "../../outside/secret",
    "alt/../../outside/secret",
    "alt/../alt",
)


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta, body = case.meta, case.body
    if meta is None or not meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    outside = os.environ.get("EMBEDREC_FUZZ_OUTSIDE")
    if outside and case.path == "/admin/reload" and isinstance(body.get("path"), str):
        choices = (*RELOAD_PATHS, outside)
        pick = zlib.crc32(body["path"].encode("utf-8", "replace")) % (len(choices) + 2)
        if pick < len(choices):  # else: the generated path
            body["path"] = choices[pick]
    else:
        history, times = body.get("history"), body.get("times")
        if isinstance(history, list) and isinstance(times, list) and len(times) != len(history):
            body["times"] = (times + [0.0] * len(history))[: len(history)]
    return case
