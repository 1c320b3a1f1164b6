"""``friendsgroup serve`` as a subprocess, and the peak memory of its workers."""

import http.client
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from .commands import friendsgroup_bin


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def peak_rss(pid: int) -> int:
    """A process's peak resident set size in bytes (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """The direct children of a process."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


class Service:
    """The server under test, started and always stopped by the bench."""

    def __init__(self, env: dict, log: Path, workers: int = 2, command: list | None = None) -> None:
        self.env, self.log_path, self.workers = env, log, workers
        self.port = free_port()
        # ``friendsgroup serve`` unless another server is named (a floor's), given the port.
        self.command = command or [friendsgroup_bin(), "serve", "--host", "127.0.0.1", "--port"]
        self.process: subprocess.Popen | None = None
        self.peaks: dict[int, int] = {}  # worker pid → peak RSS seen
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample_loop, daemon=True)

    def __enter__(self) -> "Service":
        command = [*self.command, str(self.port)]
        with self.log_path.open("wb") as log:
            # Its own session, so that no worker outlives the bench if the master is killed.
            self.process = subprocess.Popen(
                [*command, "--workers", str(self.workers)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self._sampler.start()
        return self

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.tail()}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready after {timeout:.0f} s:\n{self.tail()}")

    def _sample_loop(self) -> None:
        # Sampled all along, so a worker that was replaced mid-run still counts.
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        """Record the workers' peak memory now."""
        for pid in children(self.process.pid):
            self.peaks[pid] = max(self.peaks.get(pid, 0), peak_rss(pid))

    def worker_pids(self) -> list[int]:
        """The gunicorn workers (the master's children)."""
        return children(self.process.pid)

    def tail(self, lines: int = 20) -> str:
        """The end of the server's log."""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        if self.process is None or self.process.poll() is not None:
            return
        self.sample()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
