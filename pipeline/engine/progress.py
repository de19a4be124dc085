"""How a long stage shows its progress: a rich bar in a terminal, plain lines in a log, nothing with ``--quiet``.

The command line chooses (:func:`configure`, from ``--quiet`` and whether
stdout is a terminal); the Python API keeps the default, plain lines through
the caller's ``log`` (which the API silences unless asked). Stages print their
epoch lines through :class:`EpochProgress`:

- ``bar``: a bar over the epochs with the time left, a second one over the
  batches of the epoch under way, and each finished epoch's line printed
  above the bars;
- ``lines``: each finished epoch's line, and on long epochs (over a minute) a
  line a minute with the batches done and the epoch's time left, so a log
  shows that the work goes on;
- ``off`` (``--quiet``): nothing; the stage's result lines are still printed.
"""

from __future__ import annotations

import sys
import time
from typing import Callable

MODES = ("bar", "lines", "off")
_mode = "lines"
LINE_EVERY_S = 60.0  # plain mode: a progress line within an epoch at most this often


def configure(*, quiet: bool = False, terminal: bool | None = None) -> str:
    """Set the mode for this process: off with ``quiet``, else a bar when stdout is a terminal, else lines."""
    global _mode
    if terminal is None:
        terminal = sys.stdout.isatty()
    _mode = "off" if quiet else "bar" if terminal else "lines"
    return _mode


def mode() -> str:
    return _mode


def _clock(sec: float) -> str:
    sec = int(round(sec))
    return f"{sec // 3600}h{sec % 3600 // 60:02d}m" if sec >= 3600 else f"{sec // 60}m{sec % 60:02d}s"


class _Shown:
    """A rich bar while shown (``self.bar``), stopped by :meth:`close` or at the end of a ``with`` block."""

    bar = None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EpochProgress(_Shown):
    """The progress of ``epochs`` epochs (one init of a recording, one training), shown as :func:`mode` says."""

    def __init__(self, label: str, epochs: int, log: Callable[[str], None], *, start: int = 0):
        self.label, self.epochs, self.log = label, epochs, log
        self.mode = _mode
        self.bar = None
        self._epoch_t0 = self._last_line = time.perf_counter()
        if self.mode == "bar":
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), transient=True)
            self.bar.start()
            self._epochs = self.bar.add_task(f"{label}epochs", total=epochs, completed=start)
            self._batches = self.bar.add_task(f"{label}batches", total=None)

    def step(self, done: int, total: int) -> None:
        """``done`` of the epoch's ``total`` batches are trained."""
        if self.bar is not None:
            self.bar.update(self._batches, completed=done, total=total)
        elif self.mode == "lines":
            now = time.perf_counter()
            if done == 1:
                self._epoch_t0 = self._last_line = now
            elif now - self._last_line >= LINE_EVERY_S and done < total:
                self._last_line = now
                left = (now - self._epoch_t0) / done * (total - done)
                self.log(f"{self.label}  batch {done}/{total} of the epoch, {_clock(left)} left in it")

    def epoch(self, line: str) -> None:
        """An epoch is done: its line (metrics, time, eta)."""
        if self.bar is not None:
            self.bar.console.print(line, highlight=False, markup=False)
            self.bar.advance(self._epochs)
        elif self.mode == "lines":
            self.log(line)


class CountProgress(_Shown):
    """Progress over ``total`` units of one pass (samples of a scoring read): a bar, or a line a minute, or nothing."""

    def __init__(self, label: str, total: int, log: Callable[[str], None], unit: str = "samples"):
        self.label, self.total, self.log, self.unit = label, total, log, unit
        self.mode, self.done, self.bar = _mode, 0, None
        self._t0 = self._last_line = time.perf_counter()
        if self.mode == "bar":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("eta"),
                                TimeRemainingColumn(), transient=True)
            self.bar.start()
            self._task = self.bar.add_task(f"{label} ({unit})", total=total)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(self._task, completed=self.done)
        elif self.mode == "lines":
            now = time.perf_counter()
            if now - self._last_line >= LINE_EVERY_S and self.done < self.total:
                self._last_line = now
                left = (now - self._t0) / self.done * (self.total - self.done)
                self.log(f"{self.label}: {self.done}/{self.total} {self.unit}, {_clock(left)} left")
