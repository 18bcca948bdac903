import json
import math

import numpy as np
import pytest

from ai_platform.ml.evaluation import (
    binary_metrics,
    calibration_table,
    metrics_markdown,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _pairwise_auc(y, s):
    pos, neg = s[y == 1], s[y == 0]
    diff = pos[:, None] - neg[None, :]
    return ((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size


def _dataset(n=2000, seed=0):
    rng = np.random.default_rng(seed)
    score = rng.uniform(0.02, 0.98, n)
    y = (rng.uniform(size=n) < score).astype(int)
    baseline = np.clip(score + rng.normal(0, 0.4, n), 0, 1)
    baseline[::7] = np.nan
    return y, score, baseline


def test_hand_computed_tiny_example():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    m = binary_metrics(y, s)
    assert m["n"] == 4
    assert m["positive_rate"] == 0.5
    assert m["roc_auc"] == pytest.approx(0.75)  # 3 of 4 (pos, neg) pairs ordered
    assert m["pr_auc"] == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    assert m["brier"] == pytest.approx((0.01 + 0.16 + 0.65**2 + 0.04) / 4)
    expected_ll = -(math.log(0.9) + math.log(0.6) + math.log(0.35) + math.log(0.8)) / 4
    assert m["log_loss"] == pytest.approx(expected_ll)
    assert m["mean_score"] == pytest.approx(0.4125)


def test_roc_auc_matches_pairwise_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.uniform(size=300) * 0.5 + 0.5 * y * rng.uniform(size=300), 1)
    assert binary_metrics(y, s)["roc_auc"] == pytest.approx(_pairwise_auc(y, s))


def test_perfect_separation():
    y = np.array([0, 0, 0, 1, 1])
    m = binary_metrics(y, np.array([0.1, 0.2, 0.3, 0.7, 0.9]))
    assert m["roc_auc"] == 1.0
    assert m["pr_auc"] == 1.0


def test_ece_zero_when_calibrated_by_construction():
    ys, ss = [], []
    for p in np.arange(0.05, 1.0, 0.1):
        k = int(round(p * 100))
        ys += [1] * k + [0] * (100 - k)
        ss += [p] * 100
    m = binary_metrics(np.array(ys), np.array(ss))
    assert m["ece"] == pytest.approx(0.0, abs=1e-12)


def test_ece_hand_computed():
    y = np.array([0, 1, 1, 1, 1])
    s = np.array([0.1, 0.1, 0.9, 0.9, 0.9])
    # count-weighted: bin 0 |0.1 - 0.5| * 2/5 + bin 9 |0.9 - 1.0| * 3/5 (unweighted would be 0.25)
    assert binary_metrics(y, s)["ece"] == pytest.approx(0.22)
    assert binary_metrics(y, s, n_bins=1)["ece"] == pytest.approx(abs(0.58 - 0.8))


def test_calibration_table_bins():
    y = np.array([0, 1, 1, 0, 1])
    s = np.array([0.0, 0.05, 0.5, 0.55, 1.0])
    rows = calibration_table(y, s, n_bins=10)
    assert [(r["bin_lower"], r["n"]) for r in rows] == [(0.0, 2), (0.5, 2), (pytest.approx(0.9), 1)]
    assert rows[0]["mean_score"] == pytest.approx(0.025)
    assert rows[0]["observed_rate"] == 0.5
    assert rows[-1]["bin_upper"] == 1.0
    assert sum(r["n"] for r in rows) == 5


def test_log_loss_clipped():
    m = binary_metrics(np.array([1, 0]), np.array([0.0, 0.0]))
    assert m["log_loss"] == pytest.approx(-math.log(1e-7) / 2, rel=1e-6)


def test_baseline_lift_sign_and_nan_fill():
    y, score, baseline = _dataset()
    m = binary_metrics(y, score, baseline)
    assert m["auc_lift"] > 0.05
    assert m["auc_lift"] == pytest.approx(m["roc_auc"] - m["baseline_roc_auc"])
    filled = np.where(np.isnan(baseline), y.mean(), baseline)
    assert m["baseline_roc_auc"] == pytest.approx(_pairwise_auc(y, filled))
    assert 0 < m["baseline_pr_auc"] < 1

    noise = np.random.default_rng(5).uniform(size=y.size)
    worse = binary_metrics(y, noise, score)
    assert worse["auc_lift"] < -0.1


def test_baseline_nan_filled_with_positive_rate():
    y = np.array([0, 0, 1, 1])
    b = np.array([0.2, np.nan, np.nan, 0.9])  # filled with 0.5 -> AUC 3.5 / 4
    m = binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]), b)
    assert m["baseline_roc_auc"] == pytest.approx(0.875)


def test_metrics_json_serialisable_plain_types():
    y, score, baseline = _dataset(200)
    m = binary_metrics(y, score, baseline)
    assert json.loads(json.dumps(m)) == m
    assert all(type(v) in (int, float) for v in m.values())
    assert "baseline_roc_auc" not in binary_metrics(y, score)


@pytest.mark.parametrize(
    "y, s",
    [
        (np.ones(5), np.full(5, 0.5)),
        (np.zeros(5), np.full(5, 0.5)),
        (np.array([0, 1, 1]), np.array([0.1, 0.9])),
        (np.array([0, 1]), np.array([0.1, np.nan])),
        (np.array([0, 2]), np.array([0.1, 0.9])),
    ],
)
def test_invalid_input_raises(y, s):
    with pytest.raises(ValueError):
        binary_metrics(y, s)


def test_single_class_message():
    with pytest.raises(ValueError, match="single class"):
        binary_metrics(np.ones(3), np.array([0.2, 0.3, 0.4]))


def test_baseline_length_mismatch_raises():
    with pytest.raises(ValueError, match="baseline_score"):
        binary_metrics(np.array([0, 1]), np.array([0.2, 0.8]), np.array([0.5]))


def test_metrics_markdown():
    md = metrics_markdown({"n": 10, "roc_auc": 0.123456, "auc_lift": -0.5})
    lines = md.strip().splitlines()
    assert lines[0] == "| metric | value |"
    assert "| n | 10 |" in lines
    assert "| roc_auc | 0.1235 |" in lines
    assert "| auc_lift | -0.5000 |" in lines


def _report(out_dir, seed=0):
    y, score, baseline = _dataset(500, seed)
    metrics = binary_metrics(y, score, baseline)
    fi = {f"feat_{i:02d}": float(i * 3.5) for i in range(30)}
    ctx = {"model_version": "v<7>", "training_window": "2024-01-01..2024-06-30"}
    return metrics, write_report(out_dir / "report", "Delay model", y, score, baseline, fi, metrics, ctx)


def test_write_report_files(tmp_path):
    metrics, paths = _report(tmp_path)
    assert set(paths) == {"roc", "calibration", "feature_importance", "html"}
    for key in ("roc", "calibration", "feature_importance"):
        assert paths[key].parent == tmp_path / "report"
        assert paths[key].read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "calibration.png",
        "feature_importance.png",
        "report.html",
        "roc.png",
    ]  # no temp files left behind

    page = paths["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Delay model" in page
    assert "v&lt;7&gt;" in page and "2024-01-01..2024-06-30" in page
    for key in ("roc_auc", "pr_auc", "ece", "auc_lift"):
        assert key in page and f"{metrics[key]:.4f}" in page
    assert page.count('src="data:image/png;base64,iVBORw0KGgo') == 3
    assert "observed_rate" in page


def test_write_report_png_deterministic(tmp_path):
    _, first = _report(tmp_path / "a")
    _, second = _report(tmp_path / "b")
    for key in ("roc", "calibration", "feature_importance"):
        assert first[key].read_bytes() == second[key].read_bytes()
    assert first["html"].read_bytes() == second["html"].read_bytes()

    _, other = _report(tmp_path / "c", seed=1)
    assert other["roc"].read_bytes() != first["roc"].read_bytes()


def test_write_report_without_baseline(tmp_path):
    y, score, _ = _dataset(200)
    m = binary_metrics(y, score)
    paths = write_report(tmp_path, "t", y, score, None, {}, m, {})
    assert paths["roc"].read_bytes()[:8] == PNG_SIGNATURE
