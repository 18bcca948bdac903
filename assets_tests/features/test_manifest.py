"""The manifest is re-parsed after an edit of the project's own files, never because of dbt's output."""

import os

from ai_platform.features.manifest import _newest_source_mtime


def test_only_the_projects_own_files_count_as_edits(tmp_path):
    model = tmp_path / "models" / "m.sql"
    model.parent.mkdir()
    model.write_text("select 1")
    os.utime(model, (1_000, 1_000))
    for output in ("target/run-1/compiled/m.sql", "logs/dbt.yml", "dbt_packages/p/m.sql"):
        (tmp_path / output).parent.mkdir(parents=True)
        (tmp_path / output).write_text("select 2")  # written now: newer than the model
    assert _newest_source_mtime(tmp_path) == 1_000
