"""Ingest progress on stderr: a live line on a terminal, plain log lines otherwise."""
from __future__ import annotations

import sys
import time

from ingest.pipeline import IngestReport


class ProgressPrinter:
    def __init__(self, every_s: float = 5.0):
        self.tty = sys.stderr.isatty()
        self.every_s = every_s
        self._last = 0.0

    def __call__(self, report: IngestReport) -> None:
        done = report.ingested + report.updated + report.unchanged
        rate = done / report.elapsed if report.elapsed else 0.0
        line = (f"{done} articles ({report.ingested} new, {report.updated} updated, {report.unchanged} unchanged, "
                f"{len(report.failed)} failed), {report.chunks} chunks, {rate:.1f} articles/s")
        if self.tty:
            sys.stderr.write("\r" + line[:200] + "\x1b[K")
            sys.stderr.flush()
        elif time.monotonic() - self._last >= self.every_s:
            self._last = time.monotonic()
            print(line, file=sys.stderr, flush=True)
