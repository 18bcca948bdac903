"""history_complete: a feature day built while a day of its look-back had no flights says so, by name."""

from datetime import date

import dagster as dg

from ai_platform.features.history import CHECK
from ai_platform.tools.replay import replay
from runs import materialize_days, materialize_reference

D1, D2, D3 = date(2013, 1, 1), date(2013, 1, 2), date(2013, 1, 3)


def _history_checks(result) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations() if e.check_name == CHECK}


def test_a_day_built_before_its_history_landed_fails_the_check_until_the_history_is_rebuilt(zone, data_dir, instance):
    replay(zone, D1, D1)
    replay(zone, D3, D3, with_reference=False)  # day 2 has not landed
    materialize_reference(instance)
    assert materialize_days(instance, D1, D1).success

    early = materialize_days(instance, D3, D3)
    assert early.success  # the features exist and serve, but visibly incomplete
    checks = _history_checks(early)
    assert set(checks) == {"flight_features", "late_departure_features"}
    for evaluation in checks.values():
        assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
        assert evaluation.metadata["failing"].value == ["2013-01-03"]
        assert evaluation.metadata["missing_history_days"].value == ["2013-01-02"]
        assert "missing: 2013-01-02" in evaluation.description

    replay(zone, D2, D2, with_reference=False)
    rebuilt = materialize_days(instance, D2, D3)  # what the landing sensor requests when day 2 lands
    assert all(e.passed for e in _history_checks(rebuilt).values())
