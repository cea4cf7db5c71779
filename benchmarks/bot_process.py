"""The real bot as a process, for bench_memory.py: `paperbot run` on the console channel driven
through stdin like a user (each answer awaited at the prompt), and its memory read from /proc:
/proc/<pid>/status now and sampled in the background, /proc/<pid>/smaps split by mapping."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PROMPT = b"\n> "  # the console's prompt, printed without a newline after each answer
SAMPLE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Memory:
    """One reading of /proc/<pid>/status, in MB."""

    rss: float  # VmRSS: all resident pages
    anon: float  # RssAnon
    file: float  # RssFile + RssShmem: mapped files (index, libraries; tmpfs counts as shmem)
    hwm: float  # VmHWM: the peak of VmRSS so far

    @classmethod
    def of(cls, pid: int) -> Memory:
        kb: dict[str, int] = {}
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                kb[name] = int(value.split()[0])
        return cls(
            rss=kb["VmRSS"] / 1024,
            anon=kb["RssAnon"] / 1024,
            file=(kb["RssFile"] + kb["RssShmem"]) / 1024,
            hwm=kb["VmHWM"] / 1024,
        )


class PeakSampler:
    """Samples the bot's RssAnon in the background (VmHWM has no anonymous twin)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.anon = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                memory = Memory.of(self.pid)
            except (OSError, KeyError, ValueError):
                return  # the process is gone
            self.anon = max(self.anon, memory.anon)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


_MAPPING = re.compile(r"^[0-9a-f]+-[0-9a-f]+ ")


def resident_by_mapping(pid: int, index_dir: Path, database: Path) -> Counter[str]:
    """Resident kB by what is mapped (/proc/<pid>/smaps): index files, SQLite files, libraries,
    the brk heap, anonymous mappings (Python arenas, malloc's mmaps, thread stacks)."""
    totals: Counter[str] = Counter()
    kind = "anonymous mappings"
    index, db = str(index_dir), str(database)
    with open(f"/proc/{pid}/smaps", encoding="utf-8", errors="replace") as smaps:
        for line in smaps:
            if _MAPPING.match(line):
                parts = line.split(maxsplit=5)
                path = parts[5].strip() if len(parts) > 5 else ""
                if path.startswith(index):
                    kind = "search index files"
                elif path.startswith(db):
                    kind = "SQLite files"
                elif path == "[heap]":
                    kind = "heap (brk)"
                elif not path or path.startswith("["):
                    kind = "anonymous mappings"
                elif ".so" in path:
                    kind = "shared libraries"
                else:
                    kind = "other files"
            elif line.startswith("Rss:"):
                totals[kind] += int(line.split()[1])
    return totals


# --- the bot as a subprocess ----------------------------------------------------------------


def paperbot_command() -> list[str]:
    """`paperbot` next to this Python (the venv's), as the README runs it."""
    beside = Path(sys.executable).parent / "paperbot"
    found = str(beside) if beside.exists() else shutil.which("paperbot")
    if found is None:
        sys.exit("bench_memory: no paperbot command; pip install -e . first")
    return [found]


class ConsoleBot:
    """`paperbot run` on the console channel; stdout is read on a thread, so the prompt (which
    ends without a newline) is seen the moment it is printed."""

    def __init__(self, config: Path, cwd: Path, log: Path, extra_env: dict[str, str]) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
        env["PYTHONUNBUFFERED"] = "1"
        env.update(extra_env)
        self.log_path = log
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [*paperbot_command(), "run", "--config", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=cwd,
            env=env,
        )
        self.pid = self.process.pid
        self._output = bytearray()
        self._answered = 0  # bytes of output already returned as answers
        self._closed = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout: IO[bytes] | None = self.process.stdout
        assert stdout is not None
        while chunk := os.read(stdout.fileno(), 65536):
            with self._changed:
                self._output += chunk
                self._changed.notify_all()
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def answer(self, timeout: float) -> str:
        """Everything printed from the last answer up to the next prompt."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (len(self._output) > self._answered and self._output.endswith(PROMPT)):
                if self._closed:
                    raise RuntimeError(f"the bot exited ({self._stderr_tail()})")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no prompt after {timeout:.0f} s ({self._stderr_tail()})")
                self._changed.wait(remaining)
            text = self._output[self._answered :].decode("utf-8", errors="replace")
            self._answered = len(self._output)
        return text.removesuffix(PROMPT.decode()).strip("\n")

    def ask(self, line: str, timeout: float) -> tuple[str, float]:
        """Type `line`; returns the answer and the seconds until the next prompt."""
        stdin = self.process.stdin
        assert stdin is not None
        started = time.perf_counter()
        stdin.write(line.encode() + b"\n")
        stdin.flush()
        return self.answer(timeout), time.perf_counter() - started

    def stop(self) -> None:
        """`quit` as a user would; terminated, then killed, if it does not leave."""
        try:
            if self.process.poll() is None:
                try:
                    assert self.process.stdin is not None
                    self.process.stdin.write(b"quit\n")
                    self.process.stdin.close()
                    self.process.wait(timeout=15)
                except (OSError, subprocess.TimeoutExpired):
                    self.process.terminate()
                    try:
                        self.process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        self.process.kill()
                        self.process.wait()
        finally:
            self._reader.join(timeout=5)
            self._log.close()

    def _stderr_tail(self) -> str:
        self._log.flush()
        lines = self.log_path.read_text(errors="replace").strip().splitlines()
        return " | ".join(lines[-3:]) or "nothing on stderr"
