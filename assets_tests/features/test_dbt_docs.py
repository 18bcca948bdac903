"""dbt's documentation site builds offline, before any warehouse exists, as `make docs` does on a fresh checkout."""

import json
import subprocess

from ai_platform import settings
from ai_platform.features.project import DBT_EXECUTABLE


def test_dbt_docs_generate_describes_every_model_and_source_without_a_warehouse(tmp_path, data_dir):
    target = tmp_path / "docs"
    subprocess.run(
        [DBT_EXECUTABLE, "docs", "generate", "--target", "compile", "--target-path", str(target)],
        cwd=settings.dbt_project_dir(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert b"<html" in (target / "index.html").read_bytes()
    manifest = json.loads((target / "manifest.json").read_text())
    documented = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    documented += manifest["sources"].values()
    assert {"flight_features", "stg_flights", "flights"} <= {n["name"] for n in documented}
    assert [n["unique_id"] for n in documented if not n["description"]] == []
    assert json.loads((target / "catalog.json").read_text())["errors"] is None
    assert not settings.warehouse_path().exists()  # compiled against an in-memory DuckDB
