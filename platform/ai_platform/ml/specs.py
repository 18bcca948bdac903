"""The models the platform ships: the ModelSpec components of `ai_platform/defs/<name>/defs.yaml`.

The one loader of specs: the code location builds their definitions from here, and jobs, sensors and
`make run` iterate the same list.
"""

import warnings
from functools import cache
from pathlib import Path

import dagster as dg

from ai_platform import defs as defs_package
from ai_platform.ml.spec import ModelSpec


@cache
def _tree() -> dg.ComponentTree:
    package = Path(defs_package.__file__).parent
    return dg.ComponentTree.from_module(defs_module=defs_package, project_root=package.parents[2])


def specs() -> list[ModelSpec]:
    """Every spec, by name."""
    return sorted(_tree().get_all_components(ModelSpec), key=lambda s: s.name)


def spec(name: str) -> ModelSpec:
    found = {s.name: s for s in specs()}
    if name not in found:
        raise KeyError(f"no model spec {name!r}; specs: {sorted(found)}")
    return found[name]


def spec_definitions() -> dg.Definitions:
    """The assets, jobs and sensors of every spec.

    Built from the defs folder, not the tree's root (what `dg.load_defs` builds): the root adds a catalogue of
    every installed component library for `dg` tooling, which imports them all (dagster_aws, ...) and adds
    seconds to every process that loads the code location.
    """
    with warnings.catch_warnings():  # as dg.load_defs does: no beta/preview notices on every load
        warnings.simplefilter("ignore", dg.BetaWarning)
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return _tree().build_defs(_tree().defs_module_path)
