"""Progress of a run on stderr, through tqdm: a bar with the time left, and the label of the
measurement under way."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """Counts the measurements of a run (``step(label)`` after each one)."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        stream = stream or sys.stderr
        live = hasattr(stream, "isatty") and stream.isatty()
        self.bar = tqdm(
            total=total,
            disable=not enabled,
            file=stream,
            unit="cell",
            dynamic_ncols=True,
            mininterval=0.1 if live else 10.0,  # a log file gets a line every 10 s, not every cell
            leave=True,
        )

    def step(self, label: str) -> None:
        self.bar.set_postfix_str(label, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
