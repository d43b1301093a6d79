"""One process, one node: the init / spin / clean shutdown every vipa_ros node executable shares."""
from __future__ import annotations

from typing import Callable, TypeVar

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node

N = TypeVar("N", bound=Node)


def run_node(make_node: Callable[[], N], release: Callable[[N], None], threads: int = 1,
             args: list[str] | None = None) -> None:
    """Spin the node `make_node()` builds until Ctrl-C or an external shutdown, then `release` it (stop its
    worker threads, close devices) before destroying it, even when construction or spinning failed."""
    rclpy.init(args=args)
    node = None
    try:
        node = make_node()
        executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        # Ctrl-C shuts the context down under a callback that may still be running (a timer publishing a frame):
        # its failing publish is part of stopping, not an error to exit with
        if rclpy.ok():
            raise
    finally:
        if node is not None:
            release(node)
            node.destroy_node()
        rclpy.try_shutdown()
