"""Referring-segmentation metrics against hand-computed values and the LAVT / CRIS reference definitions."""
from __future__ import annotations

import numpy as np
import pytest

from vipa_ros.training.metrics import (RefSegMetrics, compute_metrics, format_metrics, intersection_union,
                                       sample_iou)

# four samples with hand-computed I / U
P1, G1 = np.array([[1, 1, 0], [0, 0, 0]]), np.array([[1, 0, 0], [1, 0, 0]])  # I=1, U=3
P2, G2 = np.ones((2, 2)), np.ones((2, 2))                                    # I=4, U=4
P3, G3 = np.zeros((2, 2)), np.zeros((2, 2))                                  # I=0, U=0
P4, G4 = np.ones((2, 2)), np.array([[1, 1], [1, 0]])                         # I=3, U=4


def test_intersection_union_and_iou():
    assert intersection_union(P1, G1) == (1, 3)
    assert intersection_union(P4, G4) == (3, 4)
    assert intersection_union(np.array([[0.7, 0.2]]), np.array([[1, 1]])) == (1, 2)  # probabilities > 0.5
    assert sample_iou(1, 3) == pytest.approx(1 / 3)
    assert sample_iou(0, 0) == 0.0                                   # LAVT: U == 0 -> 0
    assert sample_iou(0, 0, empty_iou=1.0) == 1.0
    assert sample_iou(4, 4, protocol="cris") == pytest.approx(4 / (4 + 1e-6))
    with pytest.raises(ValueError):
        intersection_union(np.zeros((2, 2)), np.zeros((3, 2)))


def test_hand_computed_values():
    m = RefSegMetrics()
    ious = [m.add(P1, G1, "colour"), m.add(P2, G2, ["spatial", "command"]), m.add(P3, G3, "colour"),
            m.add(P4, G4, "spatial")]
    assert ious == pytest.approx([1 / 3, 1.0, 0.0, 0.75])
    r = m.summary()
    o = r["overall"]
    assert o["mIoU"] == pytest.approx((1 / 3 + 1 + 0 + 0.75) / 4)
    assert o["oIoU"] == pytest.approx((1 + 4 + 0 + 3) / (3 + 4 + 0 + 4))
    assert [o[f"P@{t}"] for t in (0.5, 0.6, 0.7, 0.8, 0.9)] == pytest.approx([0.5, 0.5, 0.5, 0.25, 0.25])
    assert o["n"] == 4
    g = r["groups"]
    assert g["colour"]["mIoU"] == pytest.approx((1 / 3 + 0) / 2) and g["colour"]["n"] == 2
    assert g["colour"]["oIoU"] == pytest.approx(1 / 3)
    assert g["spatial"]["mIoU"] == pytest.approx((1 + 0.75) / 2)
    assert g["command"]["n"] == 1 and g["command"]["P@0.9"] == 1.0
    assert "overall" in format_metrics(r)


def test_batch_update_matches_single_adds():
    rng = np.random.default_rng(0)
    preds = rng.random((6, 8, 8)) > 0.5
    gts = rng.random((6, 8, 8)) > 0.5
    a, b = RefSegMetrics(), RefSegMetrics()
    a.update(preds, gts, groups=["x", "y"] * 3)
    for p, g, grp in zip(preds, gts, ["x", "y"] * 3):
        b.add(p, g, grp)
    assert a.summary() == b.summary()
    torch = pytest.importorskip("torch")
    c = RefSegMetrics()
    c.update(torch.from_numpy(preds.astype(np.float32)), torch.from_numpy(gts.astype(np.int64)), ["x", "y"] * 3)
    assert c.summary() == a.summary()


def _lavt_reference(preds, gts):
    """The evaluation loop of LAVT-RIS test.py, re-stated."""
    cum_i = cum_u = 0
    thresholds = [.5, .6, .7, .8, .9]
    correct = np.zeros(len(thresholds))
    ious = []
    for p, g in zip(preds, gts):
        i = np.sum(np.logical_and(p, g))
        u = np.sum(np.logical_or(p, g))
        iou = 0.0 if u == 0 else i * 1.0 / u
        ious.append(iou)
        cum_i += i
        cum_u += u
        for k, t in enumerate(thresholds):
            correct[k] += iou >= t
    return np.mean(ious), cum_i / cum_u, correct / len(preds)


def _cris_reference(preds, gts):
    """CRIS.pytorch engine.validate, re-stated (float32 thresholds from torch.arange, strict '>')."""
    ious = np.array([np.sum(np.logical_and(p, g)) / (np.sum(np.logical_or(p, g)) + 1e-6) for p, g in zip(preds, gts)])
    thresholds = np.arange(0.5, 1.0, 0.1, dtype=np.float32)
    return ious.mean(), np.array([(ious > t).mean() for t in thresholds])


def test_matches_lavt_and_cris_reference_loops():
    rng = np.random.default_rng(1)
    preds, gts = [], []
    for _ in range(40):
        g = np.zeros((20, 20), bool)
        g[rng.integers(0, 8):rng.integers(10, 20), rng.integers(0, 8):rng.integers(10, 20)] = True
        p = g.copy()
        flip = rng.random(g.shape) < rng.uniform(0, 0.4)
        p[flip] = ~p[flip]
        preds.append(p)
        gts.append(g)
    # exact threshold hits: IoU exactly 0.5 and 0.8 (LAVT counts them, CRIS does not)
    preds.append(np.array([[1, 1, 0, 0]], bool))
    gts.append(np.array([[1, 0, 0, 0]], bool))
    preds.append(np.array([[1, 1, 1, 1, 1]], bool))
    gts.append(np.array([[1, 1, 1, 1, 0]], bool))

    miou, oiou, prec = _lavt_reference(preds, gts)
    r = compute_metrics(preds, gts)["overall"]
    assert r["mIoU"] == pytest.approx(miou, abs=1e-12)
    assert r["oIoU"] == pytest.approx(oiou, abs=1e-12)
    assert [r[f"P@{t}"] for t in (0.5, 0.6, 0.7, 0.8, 0.9)] == pytest.approx(list(prec), abs=1e-12)

    miou_c, prec_c = _cris_reference(preds, gts)
    rc = compute_metrics(preds, gts, protocol="cris")["overall"]
    assert rc["mIoU"] == pytest.approx(miou_c, abs=1e-12)
    assert [rc[f"P@{t}"] for t in (0.5, 0.6, 0.7, 0.8, 0.9)] == pytest.approx(list(prec_c), abs=1e-12)
    assert rc["P@0.5"] < r["P@0.5"]  # the IoU == 0.5 sample


def test_empty_cases():
    m = RefSegMetrics()
    assert m.summary()["overall"]["n"] == 0 and m.summary()["overall"]["mIoU"] == 0.0
    m.add(np.zeros((3, 3)), np.zeros((3, 3)))
    assert m.summary()["overall"]["oIoU"] == 0.0 and m.summary()["overall"]["P@0.5"] == 0.0
    m1 = RefSegMetrics(empty_iou=1.0)
    m1.add(np.zeros((3, 3)), np.zeros((3, 3)))
    assert m1.summary()["overall"]["mIoU"] == 1.0
    with pytest.raises(ValueError):
        RefSegMetrics(protocol="other")
