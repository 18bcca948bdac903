"""The landing zone: one CSV per table per day plus the reference tables, in a local folder or an S3 bucket.

Names are validated before any path or object key is built from them: only `<daily table>/<YYYY-MM-DD>.csv`
for a day of the partitions and `<reference table>.csv` exist for the platform, so a name can never point
outside the zone. The platform only reads the zone, except `replay`, which writes it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Protocol

import dagster as dg
import pydantic

from ai_platform import settings
from ai_platform.partitions import END_DATE, START_DATE, parse_day
from ai_platform.storage import list_objects

DAILY_TABLES = ("flights", "weather")
REFERENCE_TABLES = ("planes", "airports", "airlines")

_DAY_NAME = re.compile(r"(?P<table>[a-z]+)/(?P<day>[0-9]{4}-[0-9]{2}-[0-9]{2})\.csv")
_REFERENCE_NAME = re.compile(r"(?P<table>[a-z]+)\.csv")


@dataclass(frozen=True, order=True)
class LandingName:
    """A valid landing file name: a daily table's day, or a reference table (day None)."""

    table: str
    day: date | None = None

    def __str__(self) -> str:
        return f"{self.table}.csv" if self.day is None else f"{self.table}/{self.day.isoformat()}.csv"


def day_name(table: str, day: date) -> LandingName:
    if table not in DAILY_TABLES:
        raise ValueError(f"{table!r} is not a daily table; expected one of {DAILY_TABLES}")
    return LandingName(table, day)


def reference_name(table: str) -> LandingName:
    if table not in REFERENCE_TABLES:
        raise ValueError(f"{table!r} is not a reference table; expected one of {REFERENCE_TABLES}")
    return LandingName(table)


def parse_name(name: str) -> LandingName:
    """The landing name `name` stands for, or ValueError saying what a valid name looks like."""
    expected = (
        f"expected <table>/<YYYY-MM-DD>.csv with table in {', '.join(DAILY_TABLES)}, "
        f"or <table>.csv with table in {', '.join(REFERENCE_TABLES)}"
    )
    if m := _DAY_NAME.fullmatch(name):
        if m["table"] not in DAILY_TABLES:
            raise ValueError(f"{name!r}: {m['table']!r} is not a daily table; {expected}")
        day = parse_day(m["day"])
        if not START_DATE <= day < END_DATE:
            raise ValueError(f"{name!r}: {day} is outside the partitions [{START_DATE}, {END_DATE})")
        return LandingName(m["table"], day)
    if (m := _REFERENCE_NAME.fullmatch(name)) and m["table"] in REFERENCE_TABLES:
        return LandingName(m["table"])
    raise ValueError(f"{name!r} is not a landing file name; {expected}")


def valid_names(entries: list[Entry]) -> dict[LandingName, Entry]:
    """The entries with a valid landing name (the others are the landing sensor's to report)."""
    out = {}
    for e in entries:
        try:
            out[parse_name(e.name)] = e
        except ValueError:
            continue
    return out


def complete_days(names) -> list[date]:
    """Days for which every daily table has landed, in order."""
    tables: dict[date, set[str]] = {}
    for n in names:
        if n.day is not None:
            tables.setdefault(n.day, set()).add(n.table)
    return sorted(d for d, t in tables.items() if t.issuperset(DAILY_TABLES))


@dataclass(frozen=True)
class Entry:
    """A file as listed: `modified` in epoch seconds; `fingerprint` changes whenever the content may have."""

    name: str
    modified: float
    fingerprint: str


class LandingZone(Protocol):
    uri: str

    def list(self) -> list[Entry]: ...

    def read(self, name: LandingName) -> bytes: ...

    def write_if_changed(self, name: LandingName, data: bytes) -> bool: ...

    def uri_of(self, name: LandingName) -> str: ...


class LocalZone:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.uri = str(self.root)

    def path(self, name: LandingName) -> Path:
        return self.root / str(name)

    def uri_of(self, name: LandingName) -> str:
        return str(self.path(name))

    def list(self) -> list[Entry]:
        out = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for f in files:
                if f.startswith("."):  # hidden, and the temp files of atomic writes in progress
                    continue
                path = Path(folder) / f
                try:
                    st = path.stat()
                except FileNotFoundError:  # replaced between listing and stat
                    continue
                # ctime too: `mv` keeps a file's old mtime, but a rename updates its ctime.
                modified = max(st.st_mtime, st.st_ctime)
                out.append(Entry(path.relative_to(self.root).as_posix(), modified, f"{st.st_size}:{st.st_mtime_ns}"))
        return out

    def read(self, name: LandingName) -> bytes:
        path = self.path(name)
        if not path.resolve().is_relative_to(self.root):  # a symlink out of the zone
            raise PermissionError(f"{path} points outside the landing zone {self.root}; it is not read")
        return path.read_bytes()

    def write_if_changed(self, name: LandingName, data: bytes) -> bool:
        from ai_platform.files import write_if_changed

        return write_if_changed(self.path(name), data)


class S3Zone:
    """A bucket and key prefix; `client` is a boto3 S3 client (from dagster_aws's S3Resource)."""

    def __init__(self, uri: str, client):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{uri!r}: expected s3://<bucket>[/<prefix>]")
        self.uri, self.bucket, self.client = uri.rstrip("/"), bucket, client
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def key(self, name: LandingName) -> str:
        return self.prefix + str(name)

    def uri_of(self, name: LandingName) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def list(self) -> list[Entry]:
        return [
            Entry(obj["Key"][len(self.prefix) :], obj["LastModified"].timestamp(), obj["ETag"])
            for obj in list_objects(self.client, self.bucket, self.prefix)
        ]

    def read(self, name: LandingName) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(name))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(self.uri_of(name)) from None

    def write_if_changed(self, name: LandingName, data: bytes) -> bool:
        try:
            if self.read(name) == data:
                return False
        except FileNotFoundError:
            pass
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)
        return True


def open_zone(uri: str, s3=None) -> LandingZone:
    """The zone at `uri` (a folder, or s3://bucket/prefix reached through `s3`, a dagster_aws S3Resource).

    Without `s3`, an S3Resource with no settings of its own is used: boto3 then takes the endpoint,
    region and credentials from the standard AWS environment variables, so they never pass through
    Dagster config, metadata or logs.
    """
    if uri.startswith("s3://"):
        if s3 is None:
            from dagster_aws.s3 import S3Resource

            s3 = S3Resource()
        return S3Zone(uri, s3.get_client())
    if "://" in uri:
        raise ValueError(f"{uri!r}: the landing zone is a local folder or an s3://bucket/prefix URI")
    return LocalZone(Path(uri))


class LandingResource(dg.ConfigurableResource):
    """The landing zone the raw assets read and the landing sensor watches."""

    uri: str | None = pydantic.Field(
        default=None,
        description="A local folder or s3://bucket/prefix; unset: AI_PLATFORM_LANDING_URI, else <data dir>/landing.",
    )

    def zone(self) -> LandingZone:
        return open_zone(self.uri or settings.landing_uri())
