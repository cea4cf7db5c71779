"""Running the real `paperbot` command in a child process: its environment, exit code and log.

The child gets only the settings a test gives it (as PAPERBOT_ variables; nothing inherited, no
config file), runs in the test's temporary directory, and its stderr is the log the test reads.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PYTHON = sys.executable


def child_env(**settings: str) -> dict[str, str]:
    """The environment of a child: the parent's minus every PAPERBOT_ variable, plus `settings`
    (PAPERBOT_ names, e.g. `PAPERBOT_SOURCES__RETRIES="0"`)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    env.update(settings)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Child:
    """A running `paperbot` process whose stderr lines are collected as they come."""

    proc: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _reader: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, args: list[str], env: dict[str, str], cwd: Path) -> Child:
        proc = await asyncio.create_subprocess_exec(
            *args,
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        child = cls(proc)
        child._reader = asyncio.create_task(child._read())
        return child

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    @property
    def log(self) -> str:
        return "\n".join(self.lines)

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(text)
            if found:
                return found[0]
            if self.proc.returncode is not None:
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"no line with {text!r} in the child's log:\n{self.log}")

    async def terminate(self, timeout: float = 20.0) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds until the process was gone)."""
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        return await self.wait(timeout), time.monotonic() - started

    async def wait(self, timeout: float = 60.0) -> int:
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"the child did not exit within {timeout}s:\n{self.log}") from None
        if self._reader is not None:
            await self._reader
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()


async def paperbot(*args: str, env: dict[str, str], cwd: Path) -> Child:
    """Start `paperbot ARGS...` (the console script's module) as a child process."""
    return await Child.start([PYTHON, "-m", "paperbot.cli", *args], env, cwd)
