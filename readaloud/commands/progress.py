"""A progress report for long jobs (an export, a voice download): a bar with the time left on a
terminal, a line every 10 % otherwise (logs, pipes)."""

from __future__ import annotations

import time


class Progress:
    def __init__(self, out, unit: str = "sentences", scale: float = 1.0) -> None:
        self.out = out
        self.tty = out.isatty()
        self.unit = unit
        #: ``done`` and ``total`` are shown times this (bytes as MB: 1e-6).
        self.scale = scale
        self.began = time.monotonic()
        self.first_done: int | None = None
        self.last_tenth = -1

    def __call__(self, done: int, total: int, *_: object) -> None:
        if self.first_done is None:
            self.first_done, self.began = done, time.monotonic()
        share = done / total if total else 1.0
        left = self._left(done, total)
        amount = f"{self._shown(done)}/{self._shown(total)} {self.unit}"
        if self.tty:
            bar = "#" * round(share * 30)
            self.out.write(f"\r[{bar:<30}] {amount}, {left} left ")
            if done == total:
                self.out.write("\n")
            self.out.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.out.write(f"{round(share * 100)}% ({amount}, {left} left)\n")
            self.out.flush()

    def _shown(self, count: int) -> str:
        return str(count) if self.scale == 1.0 else f"{count * self.scale:.1f}"

    def _left(self, done: int, total: int) -> str:
        made = done - (self.first_done or 0)
        if made <= 0:
            return "time unknown"
        per = (time.monotonic() - self.began) / made
        return clock(per * (total - done))


def clock(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
