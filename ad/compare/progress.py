"""Progress of a run on stderr: a live bar with the time left on a terminal, plain lines
(`[ 12/140   8.1s] label`) otherwise, so that logs stay readable."""

from __future__ import annotations

import shutil
import sys
import time


class Progress:
    """Counts the measurements of a run; the time left is the mean time per step so far
    times the steps left."""

    def __init__(self, total: int, enabled: bool = True, stream=None, live: bool | None = None):
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.start = time.perf_counter()

    def eta(self) -> float | None:
        """Seconds left, or None before the first step."""
        if self.done == 0:
            return None
        return (time.perf_counter() - self.start) / self.done * max(self.total - self.done, 0)

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        t = time.perf_counter() - self.start
        if not self.live:
            w = len(str(self.total))
            print(f"[{self.done:>{w}}/{self.total} {t:6.1f}s] {label}", file=self.stream, flush=True)
            return
        eta = self.eta()
        left = "" if eta is None or self.done < 3 else f", ~{eta:.0f}s left"
        width = 24
        filled = int(width * self.done / max(self.total, 1))
        text = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {t:.0f}s{left}  {label}"
        cols = shutil.get_terminal_size((100, 20)).columns
        self.stream.write("\r" + text[: cols - 1].ljust(cols - 1))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.live:
            self.stream.write("\n")
            self.stream.flush()
