"""The rosidl-generated interfaces exist, carry the fields of ROS_INTERFACE.md and survive serialization."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="ROS 2 (rclpy) not installed: run `make setup`")

from rclpy.serialization import deserialize_message, serialize_message  # noqa: E402
from ros_helpers import make_segmentation  # noqa: E402

from vipa_ros.msg import Audio, Instance, Segmentation  # noqa: E402
from vipa_ros.srv import Segment, SetCommand  # noqa: E402


def test_message_fields_match_the_interface_spec():
    assert set(Segmentation.get_fields_and_field_types()) == {
        "header", "command", "action", "expression", "instances", "inference_ms"}
    assert Segmentation.get_fields_and_field_types()["instances"] == "sequence<vipa_ros/Instance>"
    assert set(Instance.get_fields_and_field_types()) == {
        "id", "score", "roi", "mask", "has_pose", "pose", "extent", "grasp_width", "valid_points"}
    assert Instance.get_fields_and_field_types()["id"] == "uint16"
    assert set(Audio.get_fields_and_field_types()) == {
        "header", "sample_rate", "channels", "encoding", "data"}
    assert set(SetCommand.Request.get_fields_and_field_types()) == {"command"}
    assert set(SetCommand.Response.get_fields_and_field_types()) == {"success", "message", "action", "expression"}
    assert Segment.Response.get_fields_and_field_types()["segmentation"] == "vipa_ros/Segmentation"


def test_segmentation_round_trips_through_rclpy_serialization():
    msg = make_segmentation()
    data = serialize_message(msg)
    assert len(data) > 3 * 24 * 32  # the masks are in there
    back = deserialize_message(data, Segmentation)
    # Byte equality is not defined (CDR padding); a second round trip must reproduce the first exactly.
    assert deserialize_message(serialize_message(back), Segmentation) == back
    assert back.header == msg.header and back.command == msg.command and back.expression == msg.expression
    assert [i.id for i in back.instances] == [1, 2, 3]
    assert back.instances[2].score == pytest.approx(0.7)
    assert back.instances[1].mask.data.tobytes() == msg.instances[1].mask.data.tobytes()
    assert back.instances[0].pose.pose.position.z == pytest.approx(0.62)


def test_audio_round_trips_binary_payload():
    samples = (np.sin(np.linspace(0, 100, 16000)) * 30000).astype("<i2")
    msg = Audio(sample_rate=16000, channels=1, encoding="S16LE", data=samples.tobytes())
    back = deserialize_message(serialize_message(msg), Audio)
    assert np.array_equal(np.frombuffer(bytes(back.data), dtype="<i2"), samples)
