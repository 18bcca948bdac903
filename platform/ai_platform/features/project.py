"""The dbt project, and nothing else: `dagster-dbt project prepare-and-package --file` loads this module."""

import sys
from pathlib import Path

from dagster_dbt import DbtProject

from ai_platform.settings import dbt_project_dir

# profiles.yml lives in the project folder: a copy of the project (AI_PLATFORM_DBT_PROJECT_DIR) brings its profile.
_project_dir = dbt_project_dir()
dbt_project = DbtProject(project_dir=_project_dir, profiles_dir=_project_dir)

# The dbt installed beside this Python, so that an un-activated venv (`.venv/bin/dagster dev`) works.
DBT_EXECUTABLE = str(Path(sys.executable).parent / "dbt")
