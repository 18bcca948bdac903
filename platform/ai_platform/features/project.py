"""The dbt project, and nothing else: `dagster-dbt project prepare-and-package --file` loads this module."""

import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ai_platform.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)

# The dbt installed beside this Python, so that an un-activated venv (`.venv/bin/dagster dev`) works.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
