"""The landing sensor: files landing in the zone (folder or S3) start the runs that refresh their days.

A new or corrected day file starts one run for its raw partition and the features downstream of it;
the features of the days whose trailing history reads that day are rebuilt in the same run. A day
whose tables have not all landed yet only gets its raw partition. Bytes already ingested (or already
requested) start nothing, and run keys come from checksums, so a daemon restart never launches a
run twice.

The cursor keeps a watermark (newest modification time seen) with the files seen at exactly that
time, so a file written in the same second as the last one seen is not skipped, plus the checksums
requested but not yet in the lake.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import dagster as dg

from ai_platform import lake, quarantine, settings
from ai_platform.features.manifest import lake_exports, manifest
from ai_platform.files import sha256
from ai_platform.landing import (
    DAILY_TABLES,
    REFERENCE_TABLES,
    Entry,
    LandingName,
    LandingResource,
    LandingZone,
    complete_days,
    day_name,
    parse_name,
    valid_names,
)
from ai_platform.partitions import range_tags

RAW_DAILY = [dg.AssetKey(["raw", t]) for t in DAILY_TABLES]

# Dagster's sensor daemon looks at its sensors in a loop of at least 5 s (MIN_INTERVAL_LOOP_TIME in
# dagster/_daemon/sensor.py), whatever their minimum interval.
DAEMON_LOOP_S = 5


@dataclass
class Cursor:
    watermark: float = 0.0
    at_watermark: list[str] = field(default_factory=list)
    pending: dict[str, str] = field(default_factory=dict)  # landing name -> sha256 requested, not yet in the lake

    @classmethod
    def parse(cls, text: str | None) -> Cursor:
        return cls(**json.loads(text)) if text else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def _seen_key(e: Entry) -> str:
        return f"{e.name}|{e.fingerprint}"

    def new_entries(self, entries: list[Entry]) -> list[Entry]:
        return [
            e
            for e in entries
            if e.modified > self.watermark
            or (e.modified == self.watermark and self._seen_key(e) not in self.at_watermark)
        ]

    def advance(self, entries: list[Entry]) -> None:
        """Move the watermark to the newest of `entries` (the whole listing), remembering the ties."""
        if not entries:
            return
        newest = max(max(e.modified for e in entries), self.watermark)
        ties = [self._seen_key(e) for e in entries if e.modified == newest]
        self.at_watermark = sorted(set(ties) | (set(self.at_watermark) if newest == self.watermark else set()))
        self.watermark = newest


def lake_path(name: LandingName):
    return lake.raw_reference_path(name.table) if name.day is None else lake.raw_day_path(name.table, name.day)


def ingested_sha(name: LandingName) -> str | None:
    recorded = lake.source_of(lake_path(name))
    return recorded["sha256"] if recorded else None


@dataclass(frozen=True)
class Change:
    name: LandingName
    sha256: str
    replaces: str | None  # the checksum the lake had, so a revert to earlier bytes is a new run key


@dataclass
class Tick:
    """What one look at the zone found."""

    changes: list[Change]
    ignored: dict[str, str]  # name -> why
    complete: set[date]


def look(zone: LandingZone, cursor: Cursor) -> Tick:
    """Read the entries new since the cursor; keep those whose bytes differ from the lake and the pending runs."""
    entries = zone.list()
    changes, ignored = [], {}
    for entry in cursor.new_entries(entries):
        try:
            name = parse_name(entry.name)
        except ValueError as e:
            ignored[entry.name] = str(e)
            continue
        try:
            checksum = sha256(zone.read(name))
        except FileNotFoundError:  # deleted since the listing
            continue
        ingested = ingested_sha(name)
        if checksum != (cursor.pending.get(str(name)) or ingested):
            changes.append(Change(name, checksum, ingested))
    cursor.advance(entries)
    return Tick(changes, ignored, set(complete_days(valid_names(entries))))


def watch(zone: LandingZone, cursor: Cursor, every: float, for_s: float) -> Tick:
    """Look at the zone every `every` seconds for up to `for_s` seconds, until a look finds changed days that have
    all their tables landed. A producer writes a day's files one after the other, and reference tables land with
    days (they ride along with a day's run): returning at the first file would split the day's work into runs."""
    deadline = time.monotonic() + for_s
    changes: dict[str, Change] = {}
    ignored: dict[str, str] = {}
    while True:
        tick = look(zone, cursor)
        changes.update({str(c.name): c for c in tick.changes})
        ignored.update(tick.ignored)
        changed_days = {c.name.day for c in changes.values() if c.name.day is not None}
        if (changed_days and changed_days <= tick.complete) or time.monotonic() + every > deadline:
            return Tick(list(changes.values()), ignored, tick.complete)
        time.sleep(every)


def cadence() -> tuple[int, int]:
    """The landing sensor's minimum interval, and how long each of its ticks watches the zone.

    The zone is listed every AI_PLATFORM_SENSOR_INTERVAL_SECONDS. Below the daemon's loop, a tick keeps looking until
    a second before the next loop, so a landed day waits about the interval, not up to the loop, for its run. The
    minimum interval is a second less than the loop: the daemon runs a sensor once that much has passed since its
    last tick started, a moment after the loop began, so a minimum of exactly the loop is missed by milliseconds
    every other loop."""
    interval = settings.sensor_interval_seconds()
    return max(interval, DAEMON_LOOP_S) - 1, max(0, DAEMON_LOOP_S - interval)


def lookback_days() -> int:
    """How many following days read a day's outcomes (the dbt models' `meta.lookback_days`)."""
    return max((e.lookback_days for e in lake_exports(manifest())), default=0)


def contiguous(days: set[date]) -> list[tuple[date, date]]:
    """`days` as inclusive [first, last] runs of consecutive days."""
    out: list[tuple[date, date]] = []
    for d in sorted(days):
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def _run_key(label: str, changes: list[Change]) -> str:
    body = json.dumps(sorted((str(c.name), c.sha256, c.replaces) for c in changes))
    return f"{label}:{sha256(body.encode())[:24]}"


def _partition(first: date, last: date) -> dict:
    if first == last:
        return {"partition_key": first.isoformat()}
    return {"tags": range_tags(first, last)}


def quarantined_day(zone: LandingZone, day: date) -> bool:
    """Whether one of the day's landing files, as it is now, was quarantined (it cannot be ingested)."""
    for table in DAILY_TABLES:
        name = day_name(table, day)
        if quarantine.has_any(name):
            try:
                if quarantine.is_quarantined(name, sha256(zone.read(name))):
                    return True
            except FileNotFoundError:
                continue
    return False


def plan(
    tick: Tick,
    feature_keys: list[dg.AssetKey],
    lookback: int,
    serving: Callable[[date, date], list[dg.AssetKey]],
    bad: Callable[[date], bool] = lambda day: False,
) -> list[dg.RunRequest]:
    """The runs a tick's changes need.

    Reference tables ride along with the first daily run (features read them), or run alone. The days'
    predictions and monitoring (`serving(first, last)`: those whose champion decision is made) join the run.
    Days whose current file is quarantined (`bad`) are left out, so the days around them still run.
    """
    refs = [c for c in tick.changes if c.name.day is None]
    by_day: dict[date, list[Change]] = {}
    for c in tick.changes:
        if c.name.day is not None:
            by_day.setdefault(c.name.day, []).append(c)

    to_featurize: set[date] = set()
    for day in by_day:
        if day in tick.complete:
            to_featurize |= {day + timedelta(days=i) for i in range(lookback + 1)} & tick.complete
    to_featurize -= {d for d in to_featurize if bad(d)}

    requests = []
    ref_keys = [dg.AssetKey(["raw", c.name.table]) for c in refs]
    for first, last in contiguous(to_featurize):
        changes = [c for d, cs in by_day.items() if first <= d <= last for c in cs] + refs
        requests.append(
            dg.RunRequest(
                run_key=_run_key(f"days {first}..{last}", changes),
                asset_selection=[*ref_keys, *RAW_DAILY, *feature_keys, *serving(first, last)],
                **_partition(first, last),
            )
        )
        ref_keys, refs = [], []
    for day, changes in sorted(by_day.items()):
        if day not in tick.complete:  # the day's other tables have not landed: ingest what is there
            requests.append(
                dg.RunRequest(
                    run_key=_run_key(f"raw {day}", changes),
                    asset_selection=[dg.AssetKey(["raw", c.name.table]) for c in changes],
                    partition_key=day.isoformat(),
                )
            )
    if refs:
        requests.append(dg.RunRequest(run_key=_run_key("reference", refs), asset_selection=ref_keys))
    return requests


def build_landing_sensor(
    job: dg.UnresolvedAssetJobDefinition,
    feature_keys: list[dg.AssetKey],
    serving: Callable[[date, date], list[dg.AssetKey]],
) -> dg.SensorDefinition:
    @dg.sensor(
        name="landing_zone",
        job=job,
        minimum_interval_seconds=cadence()[0],
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Watches the landing zone (folder or S3). New or corrected day files start a run for their raw "
            "partitions and the features downstream; unchanged bytes start nothing; names that are not "
            f"<{'|'.join(DAILY_TABLES)}>/<YYYY-MM-DD>.csv or <{'|'.join(REFERENCE_TABLES)}>.csv are reported "
            "and ignored."
        ),
    )
    def landing_zone(context: dg.SensorEvaluationContext, landing: LandingResource) -> dg.SensorResult:
        cursor = Cursor.parse(context.cursor)
        zone = landing.zone()
        tick = watch(zone, cursor, every=settings.sensor_interval_seconds(), for_s=cadence()[1])
        for why in sorted(tick.ignored.values()):
            context.log.warning(f"ignored landing file {why}")
        requests = plan(tick, feature_keys, lookback_days(), serving, lambda day: quarantined_day(zone, day))
        for c in tick.changes:
            cursor.pending[str(c.name)] = c.sha256
        cursor.pending = {n: s for n, s in cursor.pending.items() if s != ingested_sha(parse_name(n))}
        if not requests:
            return dg.SensorResult(skip_reason=_skip_reason(tick), cursor=cursor.dump())
        for r in requests:
            context.log.info(f"requesting {r.run_key}")
        return dg.SensorResult(run_requests=requests, cursor=cursor.dump())

    return landing_zone


def _skip_reason(tick: Tick) -> str:
    if tick.ignored:
        return f"no new landing files to ingest; ignored {len(tick.ignored)} file(s) with invalid names"
    return "no new or changed landing files"
