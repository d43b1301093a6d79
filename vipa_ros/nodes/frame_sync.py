"""Latest-frame slot and nearest-stamp depth pairing for the segment node.

Callbacks only store; the inference worker takes. Nothing is queued: a new colour frame replaces the one the
worker has not taken yet (that one counts as dropped).
"""
from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Frame:
    msg: Any  # sensor_msgs Image or CompressedImage
    stamp_ns: int  # header stamp
    received: float  # time.monotonic() at arrival


class LatestFrameSlot:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.replaced = 0  # frames overwritten before the worker took them

    def put(self, msg: Any, stamp_ns: int) -> None:
        with self._cond:
            if self._frame is not None:
                self.replaced += 1
            self._frame = Frame(msg, stamp_ns, time.monotonic())
            self._cond.notify_all()
        # Yield the GIL to the woken worker: otherwise it runs only when the caller next releases the GIL, which
        # for the executor thread is after rebuilding its wait set in Python (~1 ms of the frame's latency).
        time.sleep(0)

    def take(self, timeout: float) -> Frame | None:
        """The newest frame not yet taken, waiting up to `timeout` seconds for one."""
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class DepthBuffer:
    """The last few depth frames, looked up by nearest stamp."""

    def __init__(self, size: int = 15) -> None:
        self._lock = threading.Lock()
        self._frames: collections.deque[Frame] = collections.deque(maxlen=size)

    def put(self, msg: Any, stamp_ns: int) -> None:
        with self._lock:
            self._frames.append(Frame(msg, stamp_ns, time.monotonic()))

    def nearest(self, stamp_ns: int, slop_s: float) -> Frame | None:
        with self._lock:
            if not self._frames:
                return None
            best = min(self._frames, key=lambda f: abs(f.stamp_ns - stamp_ns))
        return best if abs(best.stamp_ns - stamp_ns) <= slop_s * 1e9 else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)
