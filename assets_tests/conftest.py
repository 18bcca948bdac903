"""Shared fixtures: every test gets its own data directory and Dagster instance; nothing is mocked."""

import dagster as dg
import pytest
import yaml

from ai_platform import settings


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.DATA_DIR_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(settings.LANDING_URI_ENV, raising=False)
    monkeypatch.setenv(settings.LGBM_THREADS_ENV, "2")
    return tmp_path / "data"


def instance_overrides() -> dict:
    """The repository's dagster.yaml (pools, run limits); storage stays the test's own."""
    return yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())


@pytest.fixture
def instance(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home), overrides=instance_overrides()) as inst:
        yield inst
