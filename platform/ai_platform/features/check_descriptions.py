"""What a dbt test checks, in words, for its asset check in the UI.

dagster-dbt leaves a dbt test's asset check without a description unless the test has one; generic tests
(`unique`, `not_null`, ...) rarely do, so their description is written here from the test's arguments.
"""

from collections.abc import Mapping
from typing import Any


def _values(values: list) -> str:
    return ", ".join(str(v) for v in values)


_GENERIC = {
    "not_null": lambda col, kw: f"`{col}` is never null.",
    "unique": lambda col, kw: f"No two rows share a `{col}`.",
    "accepted_values": lambda col, kw: f"`{col}` is one of {_values(kw['values'])}.",
    "relationships": lambda col, kw: f"Every `{col}` is found in `{kw['field']}` of {kw['to']}.",
    "value_between": lambda col, kw: f"`{col}` lies between {kw['min_value']} and {kw['max_value']} (nulls aside).",
}


def describe_test(test: Mapping[str, Any]) -> str:
    """The test's own description (`description:` in its YAML), else one made from the generic test and arguments."""
    if test.get("description"):
        return test["description"]
    generic = test.get("test_metadata") or {}
    kwargs = dict(generic.get("kwargs") or {})
    kwargs.pop("model", None)
    column = kwargs.pop("column_name", None)
    name = generic.get("name")
    if name in _GENERIC and column:
        return _GENERIC[name](column, kwargs)
    where = f" on `{column}`" if column else ""
    args = f" ({', '.join(f'{k}={v}' for k, v in kwargs.items())})" if kwargs else ""
    return f"dbt test `{name or test['name']}`{where}{args}"
