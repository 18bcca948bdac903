import base64

import pytest

from ai_platform.ml.history_report import history_markdown, write_history_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
WEEKS = ["2013-02-05", "2013-02-12", "2013-02-19", "2013-02-26", "2013-03-05", "2013-03-12"]


def _history():
    """6 weeks: bootstrap, promote, keep, promote, rollback, keep; one missing baseline AUC."""
    actions = ["bootstrap", "promote", "keep", "promote", "rollback", "keep"]
    champions = [WEEKS[0], WEEKS[1], WEEKS[1], WEEKS[3], WEEKS[1], WEEKS[1]]
    weeks, decisions = [], []
    for i, week in enumerate(WEEKS):
        weeks.append(
            {
                "week": week,
                "challenger_auc": 0.70 + 0.01 * i,
                "champion_auc": None if i == 0 else 0.69 + 0.01 * i,
                "baseline_auc": None if i == 2 else 0.60,
                "champion": None if i == 0 else champions[i - 1],
            }
        )
        decisions.append(
            {
                "week": week,
                "action": actions[i],
                "champion": champions[i],
                "previous": None if i == 0 else champions[i - 1],
                "reason": f"reason <{i}> | detail",
                "effective_from": f"next-{i}",
            }
        )
    drift = [
        {"day": f"2013-03-{d:02d}", "psi": {f"f{j:02d}": 0.01 * j * (d - 12) for j in range(20)}} for d in range(12, 17)
    ]
    return weeks, decisions, drift


def _png_ok(path):
    data = path.read_bytes()
    return data[:8] == PNG_SIGNATURE and len(data) > 1000


def test_report_files_and_contents(tmp_path):
    weeks, decisions, drift = _history()
    out = tmp_path / "history"
    paths = write_history_report(out, "Delay <model> history", weeks, decisions, drift, 0.2)

    assert paths == {"auc": out / "auc_history.png", "drift": out / "drift.png", "html": out / "report.html"}
    assert sorted(p.name for p in out.iterdir()) == ["auc_history.png", "drift.png", "report.html"]
    assert _png_ok(paths["auc"]) and _png_ok(paths["drift"])

    page = paths["html"].read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "Delay &lt;model&gt; history" in page
    for png in (paths["auc"], paths["drift"]):
        assert f"data:image/png;base64,{base64.b64encode(png.read_bytes()).decode('ascii')}" in page
    # PSI is 0.01 * feature * (day - 12): day 13 peaks at 0.19, days 14-16 exceed 0.2.
    for key, value in [
        ("weeks", "6"),
        ("promotions", "2"),
        ("rollbacks", "1"),
        ("current champion", WEEKS[1]),
        ("mean challenger AUC", "0.7250"),
        ("mean champion AUC", "0.7200"),
        ("mean baseline AUC", "0.6000"),
        ("days monitored", "5"),
        ("days with a feature PSI &gt; 0.2", "3"),
    ]:
        assert f"<td>{key}</td><td>{value}</td>" in page
    for d in decisions:
        prev = d["previous"] or "—"
        row = (
            f"<td>{d['week']}</td><td>{d['action']}</td><td>{d['champion']}</td><td>{prev}</td>"
            f"<td>{d['effective_from']}</td><td>{d['reason'].replace('<', '&lt;').replace('>', '&gt;')}</td>"
        )
        assert row in page
    assert f"<td>{WEEKS[0]}</td><td>—</td><td>0.7000</td><td>—</td><td>0.6000</td><td>bootstrap</td>" in page
    assert f"<td>{WEEKS[2]}</td><td>{WEEKS[1]}</td><td>0.7200</td><td>0.7100</td><td>—</td><td>keep</td>" in page


def test_report_is_deterministic(tmp_path):
    weeks, decisions, drift = _history()
    first = write_history_report(tmp_path / "a", "t", weeks, decisions, drift, 0.2)
    second = write_history_report(tmp_path / "b", "t", weeks, decisions, drift, 0.2)
    for key in ("auc", "drift", "html"):
        assert first[key].read_bytes() == second[key].read_bytes()


def test_markdown_summary():
    weeks, decisions, _ = _history()
    md = history_markdown(weeks, decisions)
    assert f"| current champion | {WEEKS[1]} |" in md
    assert "| promotions | 2 |" in md and "| rollbacks | 1 |" in md
    assert "| mean challenger AUC | 0.7250 |" in md
    assert f"| {WEEKS[4]} | rollback | {WEEKS[1]} | {WEEKS[3]} | next-4 | reason <4> \\| detail |" in md


def test_markdown_keeps_last_ten_decisions():
    decisions = [
        {
            "week": f"2013-{m:02d}-01",
            "action": "keep",
            "champion": "c",
            "previous": "c",
            "reason": "r",
            "effective_from": f"2013-{m:02d}-08",  # rows are ordered by the day a decision takes effect
        }
        for m in range(12, 0, -1)
    ]
    md = history_markdown([], decisions)
    assert "2013-01-01" not in md and "2013-02-01" not in md
    assert all(f"| 2013-{m:02d}-01 | keep |" in md for m in range(3, 13))
    assert md.index("2013-03-01") < md.index("2013-12-01")


def test_empty_inputs(tmp_path):
    paths = write_history_report(tmp_path, "Empty", [], [], [], 0.2)
    assert _png_ok(paths["auc"]) and _png_ok(paths["drift"])
    page = paths["html"].read_text(encoding="utf-8")
    assert "No models yet." in page and "No decisions yet." in page
    assert "<td>weeks</td><td>0</td>" in page and "<td>days monitored</td><td>0</td>" in page
    assert "<td>mean challenger AUC</td><td>—</td>" in page
    assert page.count('src="data:image/png;base64,iVBORw0KGgo') == 2

    md = history_markdown([], [])
    assert "| weeks | 0 |" in md and "| current champion | — |" in md and "No models yet" in md


@pytest.mark.parametrize("psi", [{}, {"only": 0.05}])
def test_single_week_and_sparse_drift(tmp_path, psi):
    weeks = [
        {"week": "2013-02-05", "challenger_auc": 0.7, "champion_auc": None, "baseline_auc": None, "champion": None}
    ]
    decisions = [
        {
            "week": "2013-02-05",
            "action": "bootstrap",
            "champion": "2013-02-05",
            "previous": None,
            "reason": "first model",
            "effective_from": "2013-02-12",
        }
    ]
    drift = [{"day": "2013-02-12", "psi": psi}, {"day": "2013-02-20", "psi": {"other": 0.4}}]
    paths = write_history_report(tmp_path, "One", weeks, decisions, drift, 0.2)
    assert _png_ok(paths["auc"]) and _png_ok(paths["drift"])
    page = paths["html"].read_text(encoding="utf-8")
    assert "<td>current champion</td><td>2013-02-05</td>" in page
    assert "<td>mean champion AUC</td><td>—</td>" in page
    assert "<td>days monitored</td><td>2</td>" in page
    assert "<td>days with a feature PSI &gt; 0.2</td><td>1</td>" in page
