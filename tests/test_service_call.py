"""call_service over real DDS: a request whose response is lost is sent again; one that must not run twice is not."""
from __future__ import annotations

import pytest

pytest.importorskip("rclpy", reason="ROS 2 not installed: run `make setup`")

import rclpy  # noqa: E402
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from rclpy.task import Future  # noqa: E402
from ros_helpers import spin_until  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from vipa_ros.nodes.service_call import call_service  # noqa: E402

pytestmark = [pytest.mark.ros]


class LosesFirstResponse:
    """A Trigger server that never answers its first request, the way rmw_fastrtps drops a response to a client
    whose response reader it has not matched yet."""

    def __init__(self, context) -> None:
        self.node = rclpy.create_node("loses_first_response", context=context)
        self.requests = 0
        # reentrant: the unanswered first request must not keep the executor from serving the next one
        self.node.create_service(Trigger, "/vipa_test/trigger", self.handle, callback_group=ReentrantCallbackGroup())

    async def handle(self, request, response):
        self.requests += 1
        if self.requests == 1:
            await Future()  # never completes: no response is sent
        response.success, response.message = True, f"request {self.requests}"
        return response


@pytest.fixture
def lossy(ros_context):
    server = LosesFirstResponse(ros_context)
    client_node = rclpy.create_node("service_call_client", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(server.node)
    executor.add_node(client_node)
    client = client_node.create_client(Trigger, "/vipa_test/trigger")
    try:
        yield server, client, lambda condition, t: spin_until(executor, condition, t)
    finally:
        executor.shutdown()
        client_node.destroy_node()
        server.node.destroy_node()


def test_a_request_without_reply_is_sent_again_and_the_reply_returned(lossy):
    server, client, spin = lossy
    reply = call_service(client, Trigger.Request(), spin, timeout_s=20.0, resend_s=0.5)
    assert reply.success and reply.message == "request 2"
    assert server.requests == 2


def test_without_resending_a_lost_response_times_out_naming_the_service(lossy):
    server, client, spin = lossy
    with pytest.raises(TimeoutError, match="/vipa_test/trigger"):
        call_service(client, Trigger.Request(), spin, timeout_s=1.5, resend_s=None)
    assert server.requests == 1


def test_a_missing_service_times_out_as_not_available(ros_context):
    node = rclpy.create_node("service_call_lonely", context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        client = node.create_client(Trigger, "/vipa_test/nobody")
        with pytest.raises(TimeoutError, match="not available"):
            call_service(client, Trigger.Request(), lambda c, t: spin_until(executor, c, t), timeout_s=0.5)
    finally:
        executor.shutdown()
        node.destroy_node()
