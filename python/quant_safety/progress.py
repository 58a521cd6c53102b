"""Progress of the long commands (build, lock, docs, screen): one line per stage.

On a terminal each stage has one live line, rewritten in place twice a second:
its label, what it is doing now (for dbt: "node k of n" and the node's name, or
"parsing the project" before the first node) and the elapsed time. When the
stage ends the line is finalised ("done in 12.3s", or "FAILED"). Off a terminal
(CI logs, pipes, tests) only the final line of each stage is printed, plus a
heartbeat line every `heartbeat_s` seconds of a long stage, so that a log shows
where the time went without dbt's hundreds of lines.

dbt's full output goes to a log file (every line of every dbt invocation of the
command, `log_path`); `verbose=True` (`-v`) also prints it as it comes.
"""
from __future__ import annotations

import re
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

_NODE = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|FAIL|ERROR|WARN|SKIP|NO-OP)\b(.*)")
_NODE_NAME = re.compile(r"(?:model|seed file|test|unit_test|sql \w+ model|python \w+ model|snapshot)\s+(\S+)")
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d(\.\d+)?\s+")


class Stage:
    """A running stage: `update(text)` changes what its live line says."""

    def __init__(self, progress: Progress, label: str):
        self.progress = progress
        self.label = label
        self.start = time.monotonic()
        self.status = ""
        self.result = ""
        self.node_total = 0
        self.nodes_done = 0
        self._last_beat = self.start

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def update(self, text: str) -> None:
        self.status = text
        self.progress._redraw()

    def done(self, result: str) -> None:
        """What the final line says after 'done in Ns' (e.g. '313 nodes')."""
        self.result = result

    def dbt_line(self, line: str) -> None:
        """Handle one line of dbt's output: log it, follow 'k of n', print it with -v."""
        self.progress.log(line)
        text = _TIMESTAMP.sub("", line.rstrip("\n")).strip()
        if self.progress.verbose:
            self.progress.print(f"    {text}")
        match = _NODE.search(text)
        if match:
            n, state, rest = int(match.group(2)), match.group(3), match.group(4)
            self.node_total = n
            if state != "START":
                self.nodes_done += 1
            name = _NODE_NAME.search(rest)
            label = name.group(1).split(".")[-1] if name else ""
            if len(label) > 40:
                label = label[:37] + "..."
            self.update(f"dbt node {self.nodes_done} of {n} done" + (f", {label}" if label else ""))
        elif text.startswith("Running with dbt"):
            self.update("dbt: starting")
        elif text.startswith("Registered adapter"):
            self.update("dbt: parsing the project")
        elif text.startswith("Found "):
            self.update("dbt: " + text.split(",")[0].lower())
        elif text.startswith("Concurrency:"):
            self.update("dbt: running")
        elif text.startswith("Building catalog") or text.startswith("Catalog written"):
            self.update("dbt: " + text.rstrip(".").lower())


class Progress:
    def __init__(self, verbose: bool = False, stream=None, log_path: Path | None = None,
                 heartbeat_s: float = 30.0, live: bool | None = None, quiet: bool = False):
        self.verbose = verbose
        self.quiet = quiet
        self.stream = stream or sys.stdout
        self.live = (self.stream.isatty() if live is None else live) and not verbose and not quiet
        self.heartbeat_s = heartbeat_s
        self.log_path = log_path
        self._log = None
        self._lock = threading.RLock()
        self._stage: Stage | None = None
        self._line_shown = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(log_path, "w", encoding="utf-8")

    # ---------------------------------------------------------------- output
    def print(self, text: str) -> None:
        """A line above the live line."""
        if self.quiet:
            return
        with self._lock:
            self._clear()
            print(text, file=self.stream, flush=True)
            self._redraw()

    def note(self, text: str) -> None:
        self.print(f"  {text}")

    def log(self, line: str) -> None:
        if self._log is not None:
            with self._lock:
                self._log.write(line.rstrip("\n") + "\n")

    def close(self) -> None:
        self._stop.set()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- stages
    @contextmanager
    def stage(self, label: str):
        stage = Stage(self, label)
        with self._lock:
            self._stage = stage
        self.log(f"== {label}")
        self._start_ticker()
        try:
            yield stage
        except BaseException:
            self._finish(stage, f"FAILED after {stage.elapsed:.1f}s")
            raise
        self._finish(stage, f"done in {stage.elapsed:.1f}s" + (f" ({stage.result})" if stage.result else ""))

    def _finish(self, stage: Stage, outcome: str) -> None:
        with self._lock:
            self._stage = None
            self._clear()
            if not self.quiet:
                print(f"{stage.label}: {outcome}", file=self.stream, flush=True)
        self.log(f"== {stage.label}: {outcome}")

    def _start_ticker(self) -> None:
        if self._ticker is not None or self.quiet:
            return
        self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                stage = self._stage
                if stage is None:
                    continue
                if self.live:
                    self._redraw()
                elif time.monotonic() - stage._last_beat >= self.heartbeat_s:
                    stage._last_beat = time.monotonic()
                    print(f"  ... {stage.label}: {stage.status or 'working'} ({stage.elapsed:.0f}s)",
                          file=self.stream, flush=True)

    def _line(self, stage: Stage) -> str:
        text = f"{stage.label}: {stage.status + ', ' if stage.status else ''}{stage.elapsed:.0f}s"
        return text

    def _redraw(self) -> None:
        if not self.live:
            return
        with self._lock:
            stage = self._stage
            if stage is None:
                return
            width = _terminal_width(self.stream)
            text = self._line(stage)
            if len(text) > width - 1:
                text = text[:width - 4] + "..."
            self.stream.write("\r\x1b[K" + text)
            self.stream.flush()
            self._line_shown = True

    def _clear(self) -> None:
        if self.live and self._line_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._line_shown = False


def _terminal_width(stream) -> int:
    import os
    import shutil

    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError, AttributeError):
        return shutil.get_terminal_size().columns


def summary_lines(rows: list[tuple[str, str]]) -> list[str]:
    """'key: value' rows aligned on the colon, two spaces indented."""
    width = max((len(k) for k, _ in rows), default=0)
    return [f"  {k + ':':<{width + 1}} {v}" for k, v in rows]
