"""Calling a ROS 2 service from a script or test that spins its own executor, robust to lost responses."""
from __future__ import annotations

import time
from typing import Any, Callable

from rclpy.client import Client

SpinUntil = Callable[[Callable[[], bool], float], bool]


def call_service(client: Client, request: Any, spin_until: SpinUntil, timeout_s: float,
                 resend_s: float | None = 5.0) -> Any:
    """Send `request` and return the reply, spinning with `spin_until(condition, seconds) -> held`.

    A request that has had no reply after `resend_s` is sent again (pass None for requests that must not run
    twice). The reason: rmw_fastrtps drops a response when the server has not yet matched the new client's
    response reader within the writer's max_blocking_time (100 ms; the server logs "failed to send response
    (timeout)"). On a loaded machine discovery takes longer than that, and that request never gets a reply.
    Raises TimeoutError when the service does not appear or no reply comes within `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    if not spin_until(client.service_is_ready, timeout_s):
        raise TimeoutError(f"service {client.srv_name} not available after {timeout_s:.0f} s")
    futures = []
    while True:
        futures.append(client.call_async(request))
        remaining = deadline - time.monotonic()
        wait_s = remaining if resend_s is None else min(resend_s, remaining)
        if spin_until(lambda: any(f.done() for f in futures), max(wait_s, 0.0)):
            break
        if time.monotonic() >= deadline:
            for future in futures:
                client.remove_pending_request(future)
            raise TimeoutError(f"no reply from {client.srv_name} within {timeout_s:.0f} s "
                               f"({len(futures)} request(s) sent)")
    for future in futures:
        if not future.done():
            client.remove_pending_request(future)
    return next(f for f in futures if f.done()).result()
