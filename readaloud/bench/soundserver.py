"""A private PulseAudio server with a null sink, and recordings of what plays on a sink.

What plays on ``nullsink`` can be recorded from ``nullsink.monitor``: the tests and the benchmark
hear exactly what a listener would, at the sound server, not inferred from function returns.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import numpy as np

SINK = "nullsink"


def end_process(process: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Ask a helper server to exit (SIGTERM); kill it if it has not within ``timeout``."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class PulseServer:
    """A private PulseAudio daemon; its socket lives in its own XDG_RUNTIME_DIR.

    ``restart()`` keeps the runtime directory, so clients pointed at ``env`` find the new server
    at the same socket path.
    """

    def __init__(self, runtime_dir: Path | None = None) -> None:
        self.runtime_dir = runtime_dir or Path(tempfile.mkdtemp(prefix="readaloud-pulse-"))
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.chmod(0o700)  # PulseAudio refuses a runtime dir others can read
        self.log_path = self.runtime_dir / "pulseaudio.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs to find this server."""
        return {"XDG_RUNTIME_DIR": str(self.runtime_dir), "PULSE_SERVER": f"unix:{self.socket}"}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> None:
        if self.running:
            return
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    "pulseaudio",
                    "-n",
                    "--daemonize=no",
                    "--exit-idle-time=-1",
                    "--use-pid-file=no",
                    "--log-target=stderr",
                    "--load=module-native-protocol-unix auth-anonymous=1",
                    # Without norewinds the sink renders 2 s blocks: playback runs 2-3x slow
                    # and a fresh recorder hears nothing for ~2 s.
                    f"--load=module-null-sink sink_name={SINK} norewinds=1",
                ],
                env={**os.environ, "XDG_RUNTIME_DIR": str(self.runtime_dir)},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if not self.running or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"PulseAudio did not start; see {self.log_path}:\n{self.log()}")
            time.sleep(0.02)
        self.pactl("set-default-sink", SINK)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        end_process(process)

    def kill(self) -> None:
        """SIGKILL, as when the sound server crashes: clients get no goodbye."""
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.runtime_dir, ignore_errors=True)

    def pactl(self, *args: str) -> str:
        completed = subprocess.run(
            ["pactl", *args],
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return completed.stdout

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def capture(self, rate: int = 22050) -> Capture:
        """A recording of the null sink (mono); use it as a context manager."""
        return Capture(self, rate)

    def _answers(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            self.pactl("info")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            return False
        return True

    def __enter__(self) -> PulseServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class Capture:
    """``parec`` on the null sink's monitor: float32 mono samples and when they were played.

    ``start_time`` is on the ``time.monotonic()`` clock: sample ``i`` was played at about
    ``start_time + i / rate``. It is estimated from the reads as min(read time - samples read so
    far / rate), so it can only be late, never early: times derived from it are upper bounds,
    late by at most the smallest delay of a read (a few ms with ``--latency-msec=10``).
    """

    #: Seconds to keep recording after the block, so the last sound played is in the capture.
    settle_s = 0.15

    def __init__(
        self, server: PulseServer | None, rate: int, device: str = f"{SINK}.monitor"
    ) -> None:
        self.env = server.env if server is not None else {}
        self.device = device
        self.rate = rate
        # Wall clock minus monotonic clock: to compare with times other processes report.
        self.wall_offset = time.time() - time.monotonic()
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self._data = bytearray()
        self._start_time = float("inf")
        self._first_bytes = threading.Event()
        self._lock = threading.Lock()

    def start(self, timeout: float = 5.0) -> None:
        self._process = subprocess.Popen(
            [
                "parec",
                "--raw",
                "--latency-msec=10",
                "-d",
                self.device,
                f"--rate={self.rate}",
                "--channels=1",
                "--format=s16le",
            ],
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, name="parec-reader", daemon=True)
        self._reader.start()
        # The monitor streams zeros while nothing plays: the first bytes mean it is recording.
        if not self._first_bytes.wait(timeout):
            self.stop(settle=False)
            raise RuntimeError(f"parec delivered nothing within {timeout} s")

    def stop(self, settle: bool = True) -> None:
        if self._process is None:
            return
        if settle:
            time.sleep(self.settle_s)
        self._process.terminate()
        self._process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._process = None

    @property
    def start_time(self) -> float:
        with self._lock:
            return self._start_time

    def samples(self) -> np.ndarray:
        with self._lock:
            data = bytes(self._data[: len(self._data) // 2 * 2])
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    def time_at(self, index: float) -> float:
        """When sample ``index`` was played (monotonic clock, an upper bound)."""
        return self.start_time + index / self.rate

    def wall_time_at(self, index: float) -> float:
        """Like ``time_at``, on the wall clock (``time.time()``) other processes report in."""
        return self.time_at(index) + self.wall_offset

    def index_at(self, when: float) -> int:
        """The sample played at monotonic time ``when``."""
        return round((when - self.start_time) * self.rate)

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        fd = self._process.stdout.fileno()
        while chunk := os.read(fd, 65536):
            now = time.monotonic()
            with self._lock:
                self._data += chunk
                frames = len(self._data) // 2
                self._start_time = min(self._start_time, now - frames / self.rate)
            self._first_bytes.set()

    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop(settle=exc_type is None)


def _die_with_parent() -> None:
    """In the child before exec: a test run that is killed must not leave daemons behind.

    The signal comes when the thread that started the server ends: start it from the main thread.
    """
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, 15)  # SIGTERM
