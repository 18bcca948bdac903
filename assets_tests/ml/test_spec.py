"""Model specs: YAML components under ai_platform/defs/, validated against the dbt models they train on."""

import importlib
import re
import sys
import textwrap
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
import yaml

from ai_platform import defs as defs_package
from ai_platform.definitions import defs
from ai_platform.ml.spec import DEFAULT_PARAMS, ModelSpec
from ai_platform.ml.specs import spec, specs

SPECS_DIR = Path(defs_package.__file__).parent
OUTCOMES = {"dep_time", "dep_delay", "arr_time", "arr_delay", "air_time", "is_cancelled"}


def test_the_shipped_specs_load_from_yaml():
    folders = sorted(p.parent.name for p in SPECS_DIR.glob("*/defs.yaml"))
    assert [s.name for s in specs()] == folders and {"flight_delay", "late_departure"} <= set(folders)
    for model in specs():
        attributes = yaml.safe_load((SPECS_DIR / model.name / "defs.yaml").read_text())["attributes"]
        assert list(model.features) == attributes["features"]
        assert model.params == {**DEFAULT_PARAMS, **attributes.get("params", {})}
    flight_delay = spec("flight_delay")
    assert (flight_delay.features_model, flight_delay.label) == ("flight_features", "label_arr_delayed")
    assert (flight_delay.window, flight_delay.window_weeks) == ("trailing", 8)
    late = spec("late_departure")
    assert (late.features_model, late.label, late.window) == (
        "late_departure_features",
        "label_dep_delayed_30",
        "trailing",
    )


@pytest.mark.parametrize("name", [s.name for s in specs()])
def test_no_outcome_is_a_feature(name):
    features = set(spec(name).features)
    assert not OUTCOMES & features
    assert not [f for f in features if f.startswith("label_")]


def _load(tmp_path, monkeypatch, attributes: str) -> dg.Definitions:
    """Load a defs package holding one spec, as the code location loads ai_platform.defs."""
    package = tmp_path / "specs_under_test"
    (package / "model").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model" / "defs.yaml").write_text(
        "type: ai_platform.ml.component.ModelComponent\nattributes:\n" + textwrap.indent(attributes, "  ")
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "specs_under_test", raising=False)
    specs_under_test = importlib.import_module("specs_under_test")
    tree = dg.ComponentTree.from_module(defs_module=specs_under_test, project_root=tmp_path)
    return tree.build_defs(tree.defs_module_path)


GOOD = """\
name: mine
features_model: late_departure_features
label: label_dep_delayed_30
features: [carrier, origin, temp]
"""


def test_a_minimal_yaml_spec_builds_the_whole_model(tmp_path, monkeypatch):
    built = _load(tmp_path, monkeypatch, GOOD + "categorical: [carrier]\nowners: ['team:ml']\n")
    keys = {a.key for a in built.assets}
    assert keys == {
        dg.AssetKey(["ml", "mine", name])
        for name in (
            "model",
            "evaluation",
            "champion",
            "predictions",
            "history_report",
            "offcycle_model",
            "offcycle_evaluation",
            "offcycle_champion",
        )
    } | {dg.AssetKey(["monitoring", "mine", name]) for name in ("feature_drift", "realized_quality")}
    assert {s.name for s in built.sensors} == {"retrain_on_breach_mine"}
    assert {j.name for j in built.jobs} == {
        f"{j}_mine" for j in ("train_and_evaluate", "predict_and_monitor", "offcycle", "model_history")
    }


@pytest.mark.parametrize(
    "attributes, message",
    [
        (GOOD.replace("temp]", "tmep]"), "not a column of dbt model late_departure_features.*did you mean 'temp'"),
        (GOOD.replace("label_dep_delayed_30", "label_late"), "label 'label_late'"),
        (GOOD.replace("late_departure_features", "late_features"), "'late_features' is not a dbt model"),
        (GOOD.replace("late_departure_features", "stg_flights"), "stg_flights is not exported to the lake"),
        (GOOD + "categorical: [dest]\n", r"categorical features not in features: \['dest'\]"),
        (GOOD.replace("temp]", "label_dep_delayed_30]"), "cannot be a feature"),
        (GOOD + "windw: trailing\n", r"attributes.windw at .*defs.yaml:\d+"),
        (GOOD + "window: rolling\n", "trailing.*expanding"),
        (GOOD + "params: {objective: regression}\n", "params.objective must be 'binary'"),
        (GOOD + "max_window_weeks: 12\n", "max_window_weeks caps an expanding window"),
    ],
)
def test_a_bad_yaml_spec_says_what_to_fix(tmp_path, monkeypatch, attributes, message):
    with pytest.raises(Exception) as raised:
        _load(tmp_path, monkeypatch, attributes)
    chain, e = [], raised.value
    while e is not None:
        chain.append(str(e))
        e = e.__cause__
    text = "\n".join(chain)
    # The file: by path, or (for errors of the spec as a whole) marked in Dagster's tree of the defs folder.
    assert re.search(r"model/defs\.yaml|model\n\s*└── defs\.yaml \(ModelComponent\) \(error\)", text), text
    assert re.search(message, text), text


def test_the_second_model_reads_its_dbt_model_which_reads_flight_features():
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey(["ml", "late_departure", "model"])).parent_keys == {
        dg.AssetKey("late_departure_features")
    }
    assert dg.AssetKey("flight_features") in graph.get(dg.AssetKey("late_departure_features")).parent_keys
    assert (
        dg.AssetKey(["ml", "late_departure", "model"])
        in graph.get(dg.AssetKey(["ml", "late_departure", "evaluation"])).parent_keys
    )


def test_every_model_asset_has_owners_kinds_and_a_description():
    graph = defs.resolve_asset_graph()
    for s in specs():
        keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("ml", "monitoring") and k.path[1] == s.name]
        assert len(keys) == 10  # weekly model, evaluation, champion; 3 off-cycle; predictions, 2 monitoring, report
        for key in keys:
            node = graph.get(key)
            assert node.owners == list(s.owners) == ["team:ml"], key
            assert node.kinds and node.description, key
    for check in defs.resolve_asset_graph().asset_check_keys:
        if check.asset_key.path[0] in ("ml", "monitoring"):
            assert graph.get_check_spec(check).description, check


@pytest.mark.parametrize(
    "window, expected",
    [("trailing", date(2013, 1, 8)), ("expanding", date(2013, 1, 1))],
)
def test_training_windows_end_the_day_before_the_models_week(window, expected):
    model = spec("flight_delay").model_copy(update={"window": window, "window_weeks": 8})
    assert model.training_start(date(2013, 3, 5), date(2013, 1, 1)) == expected


def test_an_expanding_window_stops_growing_at_max_window_weeks():
    model = spec("flight_delay").model_copy(update={"window": "expanding", "max_window_weeks": 52})
    assert model.training_start(date(2013, 12, 24), date(2013, 1, 1)) == date(2013, 1, 1)  # 2013: every day
    assert model.training_start(date(2022, 12, 13), date(2013, 1, 1)) == date(2021, 12, 14)  # 10 years on: 52 weeks


def test_a_spec_is_checked_when_built_in_python_too():
    attributes = spec("late_departure").model_dump()
    with pytest.raises(ValueError, match="cannot be a feature"):
        ModelSpec(**{**attributes, "features": (*attributes["features"], attributes["label"])})
