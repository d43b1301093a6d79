"""The segment node's frame hand-over: newest colour frame only, depth paired by nearest stamp."""
import threading

from vipa_ros.nodes.frame_sync import DepthBuffer, LatestFrameSlot


def test_the_worker_takes_only_the_newest_frame_and_the_older_counts_as_replaced():
    slot = LatestFrameSlot()
    slot.put("first", 1)
    slot.put("second", 2)
    frame = slot.take(timeout=0.0)
    assert (frame.msg, frame.stamp_ns) == ("second", 2)
    assert slot.replaced == 1
    assert slot.take(timeout=0.0) is None  # taken frames are not handed out twice


def test_a_waiting_worker_receives_a_frame_put_by_another_thread():
    slot = LatestFrameSlot()
    taken = []
    worker = threading.Thread(target=lambda: taken.append(slot.take(timeout=10.0)))
    worker.start()
    slot.put("frame", 7)
    worker.join(timeout=10.0)
    assert not worker.is_alive()
    assert taken[0] is not None and taken[0].msg == "frame"


def test_take_times_out_without_a_frame_and_wake_releases_a_waiter():
    slot = LatestFrameSlot()
    assert slot.take(timeout=0.01) is None
    result = []
    worker = threading.Thread(target=lambda: result.append(slot.take(timeout=60.0)), daemon=True)
    worker.start()
    for _ in range(500):  # wake() may come before the worker waits: repeat until it has returned
        slot.wake()
        worker.join(timeout=0.01)
        if not worker.is_alive():
            break
    assert not worker.is_alive(), "wake() did not release the waiting worker"
    assert result == [None]


def test_depth_is_paired_by_nearest_stamp_within_the_slop():
    depth = DepthBuffer(size=3)
    assert depth.nearest(100, slop_s=1.0) is None and len(depth) == 0
    for stamp in (0, 40_000_000, 80_000_000, 120_000_000):  # the oldest falls out of the 3-frame buffer
        depth.put(f"d{stamp}", stamp)
    assert len(depth) == 3
    assert depth.nearest(90_000_000, slop_s=0.05).msg == "d80000000"
    # d0 fell out: the nearest to stamp 0 is 40 ms away, inside a 50 ms slop but not a 30 ms one
    assert depth.nearest(0, slop_s=0.05).msg == "d40000000"
    assert depth.nearest(0, slop_s=0.03) is None
