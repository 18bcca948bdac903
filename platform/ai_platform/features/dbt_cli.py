"""The platform's dbt CLI resource: dagster-dbt's `DbtCliResource`, without two start-up costs of every call.

Before it starts dbt, `DbtCliResource.cli()` spends ~2.8 s of a one-day run (half of it) on two things this
platform does not need:
- `dbt --version`, a whole dbt start (~1.5 s), to tell dbt Core from the Fusion engine. The executable is the
  dbt-core installed beside this Python (DBT_EXECUTABLE), so its version is the one imported here.
- a dbt adapter built inside the step process (~1.3 s: dbt's config and 500 macros), which only
  `fetch_row_counts()` and `fetch_column_metadata()` use. The platform calls neither, and on DuckDB that adapter
  would open the warehouse file in the step process, beside the dbt process (the single-writer trap in DESIGN.md).
  With this resource those two add nothing: the lake export reports each model's rows instead.

Both are private hooks of the pinned dagster-dbt; `assets_tests/features/test_dbt_cli.py` fails if they move.
"""

from functools import cached_property

from dagster_dbt import DbtCliResource
from dagster_dbt.compat import DBT_PYTHON_VERSION
from packaging.version import Version

from ai_platform.features.project import DBT_EXECUTABLE, dbt_project


class DbtCli(DbtCliResource):
    @cached_property
    def _cli_version(self) -> Version:
        return DBT_PYTHON_VERSION

    def _initialize_dbt_core_adapter(self, args) -> None:
        return None


def dbt_cli() -> DbtCli:
    """The resource every dbt invocation of the platform goes through (runs, the manifest, tests)."""
    return DbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)
