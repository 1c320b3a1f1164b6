"""The ``friendsgroup`` command run as a subprocess, as an operator would run it."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def friendsgroup_bin() -> str:
    """The console script installed beside this interpreter."""
    return str(Path(sys.executable).parent / "friendsgroup")


def friendsgroup(env: dict, *args: str, timeout: float = 120) -> str:
    """Run a command; its stdout, or an error carrying its stderr."""
    done = subprocess.run(
        [friendsgroup_bin(), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"friendsgroup {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done.stdout


@dataclass
class Measured:
    """A finished command with its wall time and peak memory."""

    returncode: int
    seconds: float
    max_rss: int  # bytes
    output: str


def measured(command: list[str], env: dict, log: Path, timeout: float) -> Measured:
    """Run a command and take its wall time and its peak RSS (``VmHWM``, sampled)."""
    with log.open("w+b") as handle:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=subprocess.STDOUT)
        deadline = started + timeout
        peak = 0
        while True:
            peak = max(peak, _high_water_mark(process.pid))
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        # Popen never saw the exit; tell it, so that it does not wait for the pid again.
        process.returncode = os.waitstatus_to_exitcode(status)
        handle.seek(0)
        output = handle.read().decode(errors="replace")
    # The command's own high-water mark: ru_maxrss would also count the bench's memory, which
    # a forked child starts with. ru_maxrss (kilobytes) only when /proc gave nothing.
    return Measured(process.returncode, seconds, peak or usage.ru_maxrss * 1024, output)


def _high_water_mark(pid: int) -> int:
    """A running process's peak resident memory (``VmHWM``) in bytes, or 0."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
