"""Schemathesis hooks of ``test_schemathesis.py`` (loaded through ``$SCHEMATHESIS_HOOKS``).

The service's one request rule that JSON Schema cannot state is that ``times`` has one entry
per ``history`` key (the field's description says so; a mismatch is a 422). A *positive*
case, which schemathesis expects the service to accept, is made to follow it; negative cases
are sent as generated.
"""

from __future__ import annotations

from typing import Any

import schemathesis


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    meta, body = case.meta, case.body
    if meta is not None and meta.generation.mode.is_positive and isinstance(body, dict):
        history, times = body.get("history"), body.get("times")
        if isinstance(history, list) and isinstance(times, list) and len(times) != len(history):
            body["times"] = (times + [0.0] * len(history))[: len(history)]
    return case
