"""One small progress helper: a tqdm bar for people, periodic log lines for logs."""

from __future__ import annotations

import logging
import time
from typing import Any

from tqdm.auto import tqdm

logger = logging.getLogger("embedrec")


class Progress:
    """Report progress of ``total`` units as a bar (``bar=True``) and/or log lines.

    Log lines go to ``logging.getLogger("embedrec")`` at INFO, at most every ``interval``
    seconds, with the rate and any named values passed to :meth:`update`. ``enabled=False``
    silences both.
    """

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str = "it",
        *,
        enabled: bool = True,
        bar: bool = True,
        interval: float = 5.0,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.enabled = enabled
        self.interval = interval
        self.done = 0
        self._t0 = time.perf_counter()
        self._last_log = self._t0
        self._bar: Any = None
        if enabled and bar:
            self._bar = tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)

    def update(self, n: int, **values: float) -> None:
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            if values:
                self._bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()}, refresh=False)
        now = time.perf_counter()
        if now - self._last_log >= self.interval:
            self._last_log = now
            rate = self.done / max(now - self._t0, 1e-9)
            pct = f" {100.0 * self.done / self.total:.1f}%" if self.total else ""
            extra = "".join(f", {k} {v:.4g}" for k, v in values.items())
            logger.info(
                "%s:%s %d %s, %.0f %s/s%s",
                self.desc,
                pct,
                self.done,
                self.unit,
                rate,
                self.unit,
                extra,
            )

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
