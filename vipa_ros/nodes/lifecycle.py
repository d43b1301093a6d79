"""The lifecycle behaviour vipa_ros nodes share: they activate themselves and report in /diagnostics even
before they are configured."""
from __future__ import annotations

import threading

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.lifecycle import Node as LifecycleNode
from rclpy.lifecycle import TransitionCallbackReturn


class SelfActivatingNode(LifecycleNode):
    """A lifecycle node that, with `autostart`, configures and activates itself once spinning starts (the ROS
    launch-file way of driving the lifecycle stays available), and publishes :meth:`_publish_diagnostics`
    every period whatever its state."""

    def _start_diagnostics_and_autostart(self, period_s: float, autostart: bool) -> None:
        # Diagnostics live outside the lifecycle: an unconfigured node (bad weights, missing backend) must say why.
        self._pub_diag = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._diag_timer = self.create_timer(float(period_s), self._publish_diagnostics,
                                             callback_group=ReentrantCallbackGroup())
        if autostart:
            self._autostart_timer = self.create_timer(0.0, self._autostart)

    def _autostart(self) -> None:
        self._autostart_timer.cancel()
        self.destroy_timer(self._autostart_timer)
        # Configuring loads a model (seconds; minutes for a TensorRT engine build): off the executor thread, so a
        # single-threaded executor keeps answering get_state and publishing diagnostics meanwhile.
        threading.Thread(target=self._configure_and_activate, name=f"{self.get_name()}_autostart",
                         daemon=True).start()

    def _configure_and_activate(self) -> None:
        if self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def _publish_diagnostics(self) -> None:
        raise NotImplementedError
