"""The Dagster UI in a real browser: what `make run` then `make dev` show a newcomer.

`ai-platform run` fills an instance with 11 weeks (the session's lake: three weekly models of each spec, their
evaluation reports and their days' predictions), `dagster dev -w workspace.yaml` serves a copy of it, and headless
Chromium checks the asset graph, launches one partition from the partition dialog, and opens the evaluation report's
plots. The screenshots it takes are the README's: `UPDATE_SCREENSHOTS=1` copies them to docs/screenshots/.
"""

import os
import re
import shutil
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from ai_platform import settings
from browser import chromium_path, explain_failure, headless_chromium
from dev_server import REPO, DagsterDev, instance_home
from runs import LAKE_UNTIL, copy_lake

pytestmark = pytest.mark.heavy

END_DATE = (LAKE_UNTIL + timedelta(days=1)).isoformat()  # exclusive: the partitions `ai-platform run` filled
LATEST_WEEK = "2013-03-12"
PARTITION = "2013-01-02"
GROUPS = {
    "raw": ["flights", "weather", "planes", "airports", "airlines"],
    "features": ["flight_features"],
    "ml": ["model", "evaluation", "champion", "predictions", "history_report"],
    "monitoring": ["feature_drift", "realized_quality"],
}
# Drawn green (materialized, checks passed) by `ai-platform run`: the lineage from the landing files to the report.
GREEN = ["flights", "weather", "flight_features", "model", "evaluation"]
VIEWPORT = {"width": 1600, "height": 1000}
SCREENSHOTS = REPO / "docs" / "screenshots"
TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 300_000


def graph_box(page: Page, label: str) -> Locator:
    """The boxes the asset graph draws with this exact label: a group's frame, or asset nodes (named by the
    last part of their key)."""
    return page.locator("svg foreignObject").filter(has=page.get_by_text(label, exact=True))


def inside(inner: dict, outer: dict) -> bool:
    return (
        outer["x"] <= inner["x"]
        and inner["x"] + inner["width"] <= outer["x"] + outer["width"]
        and outer["y"] <= inner["y"]
        and inner["y"] + inner["height"] <= outer["y"] + outer["height"]
    )


def check_asset_graph(page: Page, ui: str, screenshot) -> None:
    page.goto(f"{ui}/asset-groups")
    expect(page.get_by_text("Global asset lineage")).to_be_visible()
    page.get_by_role("button", name="Hide navigation").click()
    expect(graph_box(page, "monitoring").first).to_be_visible()  # groups start collapsed
    page.keyboard.press("Alt+e")  # the graph menu's "Expand all groups"
    expect(graph_box(page, "flight_features").first).to_be_visible()
    page.reload()  # laid out again with the groups open, fitted to the window
    expect(graph_box(page, "flight_features").first).to_be_visible()
    for group, assets in GROUPS.items():
        frame = graph_box(page, group)
        expect(frame).to_have_count(1)
        bounds = frame.bounding_box()
        for asset in assets:
            nodes = graph_box(page, asset)
            expect(nodes.first).to_be_visible()
            boxes = [n.bounding_box() for n in nodes.all()]
            assert any(inside(b, bounds) for b in boxes), f"no node {asset!r} inside group {group!r}: {boxes} {bounds}"
    for asset in GREEN:  # nodes are grey until their status has loaded
        expect(graph_box(page, asset).locator("[style*='--color-accent-green']").first).to_be_visible()
    page.screenshot(path=screenshot)


def materialize_from_ui(page: Page, ui: str, asset_path: str, partition: str, screenshot) -> str:
    """Materialize… -> type the partition -> Launch 1 run -> View: return the run's id, from the run page's URL."""
    page.goto(f"{ui}/assets/{asset_path}")
    page.get_by_role("button", name="Materialize…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text(f"Launch runs to materialize {asset_path.replace('/', ' / ')}")).to_be_visible()
    dialog.get_by_role("textbox").first.fill(partition)
    dialog.get_by_role("textbox").first.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    page.screenshot(path=screenshot)
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(page.get_by_text(re.compile(r"^Launched run [0-9a-f]{8}$"))).to_be_visible()
    page.get_by_role("link", name="View", exact=True).click()
    page.wait_for_url(re.compile(r"/runs/[0-9a-f-]{36}"))
    return page.url.rsplit("/runs/", 1)[1].split("?")[0]


def wait_for_run_page_status(page: Page) -> str:
    """The run page header's status once the run has ended."""
    ended = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
    ended.wait_for(timeout=RUN_TIMEOUT_MS)
    return ended.inner_text()


def metadata_row(page: Page, key: str) -> Locator:
    return page.get_by_role("row").filter(has=page.get_by_text(key, exact=True))


def open_plot(page: Page, key: str) -> Locator:
    """Open a Markdown metadata entry holding a PNG (an evaluation plot); return its dialog once the image loaded."""
    metadata_row(page, key).get_by_text("[Show Markdown]").click()
    dialog = page.get_by_role("dialog")
    image = dialog.locator("img")
    expect(image).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    return dialog


def check_evaluation_report(page: Page, ui: str, shots) -> None:
    page.goto(f"{ui}/assets/ml/flight_delay/evaluation")
    expect(page.get_by_text(LATEST_WEEK, exact=True).first).to_be_visible()  # the latest materialized week
    auc = float(metadata_row(page, "roc_auc").get_by_text(re.compile(r"^0\.\d+$")).first.inner_text())
    assert 0.55 < auc < 1, auc
    page.screenshot(path=shots / "evaluation.png")
    for plot in ("roc", "calibration"):
        dialog = open_plot(page, plot)
        dialog.screenshot(path=shots / f"{plot}.png")
        dialog.get_by_role("button", name="Close").click()
        expect(dialog).to_be_hidden()


def test_the_ui_shows_the_graph_and_the_reports_and_launches_a_partition(tmp_path, dagster_home, session_lake):
    chromium_path()  # before a minute of set-up: a machine without Chromium fails here, saying so
    data, shots = tmp_path / "data", tmp_path / "screenshots"
    shots.mkdir()
    copy_lake(session_lake, data, dagster_home)
    home = instance_home(dagster_home)
    env = {
        settings.DATA_DIR_ENV: str(data),
        settings.END_DATE_ENV: END_DATE,
        settings.LGBM_THREADS_ENV: "1",
    }

    with DagsterDev(home, env) as dev, headless_chromium() as browser:
        dev.skip_welcome_dialog()
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(TIMEOUT_MS)
        expect.set_options(timeout=TIMEOUT_MS)
        with explain_failure(page, tmp_path / "failure.png", lambda: f"dagster dev log tail:\n{dev.log_tail()}"):
            check_asset_graph(page, dev.ui_url, shots / "asset_graph.png")
            run_id = materialize_from_ui(page, dev.ui_url, "raw/flights", PARTITION, shots / "materialize.png")
            assert wait_for_run_page_status(page) == "Success"
            expect(page.get_by_text(f"partition: {PARTITION}")).to_be_visible()
            page.screenshot(path=shots / "run.png")
            check_evaluation_report(page, dev.ui_url, shots)

        run = dev.run(run_id)
        assert run["status"] == "SUCCESS"
        assert run["tags"]["dagster/from_ui"] == "true" and run["tags"]["dagster/partition"] == PARTITION
        assert {"asset": "raw/flights", "partition": PARTITION} in run["materializations"]

    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for png in shots.glob("*.png"):
            shutil.copyfile(png, SCREENSHOTS / png.name)
