"""The code location's definitions, for a process that drives the platform from outside."""

import warnings

import dagster as dg


def load_definitions() -> dg.Definitions:
    """`ai_platform.definitions.defs`, without Dagster's notices that some parameters it uses are in beta or preview
    (printed by every process that loads them; they tell a user of the command nothing)."""
    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)
    from ai_platform.definitions import defs

    return defs
