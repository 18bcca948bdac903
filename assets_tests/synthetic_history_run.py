"""Run in a fresh process by test_replay.py: partitions configured by AI_PLATFORM_START_DATE / _END_DATE (they are
read when the code location loads), `replay --years YEARS --start FIRST` into them (to the partitions' end),
then the reference tables and every landed day through raw and dbt features as one run. Prints what it found
as one JSON line.

Usage: python synthetic_history_run.py ROOT FIRST YEARS
"""

import json
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import yaml

from instance_dirs import instance_dir


def main(root: Path, first: date, years: int) -> dict:
    from ai_platform import landing, partitions, settings
    from ai_platform.ml.specs import spec
    from ai_platform.tools import cli
    from ai_platform.tools.code_location import load_definitions
    from ai_platform.tools.replay import default_years

    defs = load_definitions()
    out: dict = {
        "daily": [partitions.DAILY.get_first_partition_key(), partitions.DAILY.get_last_partition_key()],
        "weekly_first": partitions.weekly(spec("flight_delay").window_weeks).get_first_partition_key(),
        "default_years": default_years(),
    }
    try:
        landing.parse_name(f"flights/{partitions.END_DATE.isoformat()}.csv")
        out["end_rejected"] = False
    except ValueError:
        out["end_rejected"] = True
    assert cli.main(["replay", "--years", str(years), "--start", first.isoformat()]) == 0
    zone = landing.LocalZone(Path(settings.landing_uri()))
    landed = landing.complete_days(landing.valid_names(zone.list()))
    out["landed_days"] = [d.isoformat() for d in landed]

    overrides = yaml.safe_load((settings.REPO_ROOT / "dagster.yaml").read_text())
    with instance_dir(root) as home, dg.instance_for_test(temp_dir=str(home), overrides=overrides) as instance:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        assert defs.resolve_job_def("reference_tables").execute_in_process(instance=instance, run_config=quiet).success
        result = defs.resolve_job_def("daily_ingest_and_features").execute_in_process(
            instance=instance, run_config=quiet, tags=partitions.range_tags(landed[0], landed[-1]), raise_on_error=False
        )
        out["success"] = result.success
        out["checks"] = sorted(
            {
                f"{e.asset_key.to_user_string()}:{e.check_name}:{'passed' if e.passed else 'FAILED'}"
                for e in result.get_asset_check_evaluations()
            }
        )
        out["raw_flights_days"] = sorted(instance.get_materialized_partitions(dg.AssetKey(["raw", "flights"])))
        out["features_days"] = sorted(instance.get_materialized_partitions(dg.AssetKey("flight_features")))
    return out


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), int(sys.argv[3]))))
