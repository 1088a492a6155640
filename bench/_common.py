"""Shared by the benchmark scripts: peak-memory sampling and CPU-seconds per process."""

from __future__ import annotations

import threading

import psutil


class PeakRss:
    """Samples this process's RSS every 20 ms; the peak of one phase."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self.peak = self.proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class CpuSeconds:
    """CPU seconds (user + system) of this process, of the process with pid `moto_pid` and of this process's
    other live descendants (Prefect's ephemeral API server) over one phase. On a shared machine wall time is
    noisy; CPU seconds are the stable measure of the work each side does."""

    def __init__(self, moto_pid: int | None = None) -> None:
        self.moto_pid = moto_pid
        self.tool = self.moto = self.other = 0.0

    def _sample(self) -> tuple[float, float, float]:
        me = psutil.Process()
        tool = sum(me.cpu_times()[:2])
        moto = other = 0.0
        for child in me.children(recursive=True):
            try:
                used = sum(child.cpu_times()[:2])
            except psutil.Error:
                continue
            if child.pid == self.moto_pid:
                moto += used
            else:
                other += used
        return tool, moto, other

    def __enter__(self) -> CpuSeconds:
        self._start = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._sample()
        self.tool, self.moto, self.other = (b - a for a, b in zip(self._start, end, strict=True))
