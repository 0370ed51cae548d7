"""Progress of a run on stderr, through tqdm: a bar with the time left, and the label of the
measurement under way."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """Counts the measurements of a run (``step(label)`` after each one)."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.bar = tqdm(
            total=total,
            disable=not enabled,
            file=stream or sys.stderr,
            unit="cell",
            dynamic_ncols=True,
            leave=True,
        )

    def step(self, label: str) -> None:
        self.bar.set_postfix_str(label, refresh=False)
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
