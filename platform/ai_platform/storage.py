"""Where the platform keeps what every run worker shares: the lake, models, reports, registry, monitoring and
quarantine. Under the data directory by default; with AI_PLATFORM_LAKE_URI=s3://bucket/prefix in an S3 bucket,
so that runs on several machines read and write the same files.

A place is a `pathlib.Path` for a folder and a cloudpathlib `S3Path` for S3: the same methods (`/`, `exists`,
`read_bytes`, `glob`, ...), so the code that builds and reads paths is the same for both. boto3 (cloudpathlib's
client) and pyarrow (DuckDB's view of the bucket) take the endpoint and credentials from the standard AWS_*
environment variables, as the landing zone does: they never pass through Dagster config, metadata or logs.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    from cloudpathlib import S3Path

StoragePath = Union[Path, "S3Path"]


def as_path(location: str) -> StoragePath:
    """The place `location` (a path or an s3:// URI, as str() of a StoragePath gives) names."""
    if not location.startswith("s3://"):
        return Path(location)
    from cloudpathlib import S3Path

    return S3Path(location, client=_client(os.environ.get("AWS_ENDPOINT_URL")))


@functools.cache
def _client(endpoint_url: str | None):
    from cloudpathlib import S3Client
    from cloudpathlib.enums import FileCacheMode

    # cloudpathlib reads an object through a local copy; keeping copies would serve a stale one when another
    # machine rewrites the object within the second of S3's modification time, so each read downloads afresh.
    return S3Client(endpoint_url=endpoint_url, file_cache_mode=FileCacheMode.close_file)


def is_local(path: StoragePath) -> bool:
    return isinstance(path, Path)


# The lake's per-day reads and writes go straight to boto3: one request each, where cloudpathlib's `read_bytes` and
# `write_bytes` also ask whether the object exists and pass through a local file (make run's first three weeks on a
# local SeaweedFS spent 12 s of 60 in those questions).


def read_bytes(path: StoragePath) -> bytes:
    """The file's bytes; FileNotFoundError if there is none."""
    if is_local(path):
        return path.read_bytes()
    s3 = path.client.client
    try:
        return s3.get_object(Bucket=path.bucket, Key=path.key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        raise FileNotFoundError(str(path)) from None


def write_bytes(path: S3Path, data: bytes) -> None:
    """Put the object whole (files.write_atomic writes local files)."""
    path.client.client.put_object(Bucket=path.bucket, Key=path.key, Body=data)


def size_and_etag(path: S3Path) -> tuple[int, str]:
    """One HEAD request; FileNotFoundError if there is no such object."""
    from botocore.exceptions import ClientError

    try:
        head = path.client.client.head_object(Bucket=path.bucket, Key=path.key)
    except ClientError as e:
        if e.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise FileNotFoundError(str(path)) from None
        raise
    return head["ContentLength"], head["ETag"]


def list_objects(client: Any, bucket: str, prefix: str) -> Iterator[dict]:
    """The objects (boto3's dicts: Key, Size, ETag, LastModified) whose key starts with `prefix`."""
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from page.get("Contents", [])


def objects_under(folder: S3Path) -> Iterator[tuple[str, dict]]:
    """Every object under `folder`, with its key relative to it, from one listing."""
    prefix = folder.key.rstrip("/") + "/"
    for obj in list_objects(folder.client.client, folder.bucket, prefix):
        yield obj["Key"][len(prefix) :], obj


def existing(paths: list[StoragePath]) -> list[bool]:
    """Whether each of `paths` (all local, or all in one bucket) is a file; on S3 from one listing of their longest
    common key prefix."""
    if not paths or is_local(paths[0]):
        return [p.exists() for p in paths]
    keys = [p.key for p in paths]
    listed = {o["Key"] for o in list_objects(paths[0].client.client, paths[0].bucket, os.path.commonprefix(keys))}
    return [key in listed for key in keys]


def read_parquet(path: StoragePath, columns: list[str] | None = None) -> pl.DataFrame:
    import polars as pl

    return pl.read_parquet(path if is_local(path) else read_bytes(path), columns=columns)


def scan_parquet(path: StoragePath) -> pl.LazyFrame:
    """Lazily on a local file (only what the query needs is read); FileNotFoundError if there is none."""
    import polars as pl

    if is_local(path) and not path.exists():
        raise FileNotFoundError(str(path))
    return pl.scan_parquet(path if is_local(path) else io.BytesIO(read_bytes(path)))


def register_with_duckdb(con: duckdb.DuckDBPyConnection, uri: str | None) -> None:
    """Let DuckDB read and write s3:// paths of the lake (dbt's sources and the feature exports) through pyarrow's
    S3 filesystem: DuckDB's own httpfs extension would be downloaded at run time, and PyPI's builds of it do not
    fit the pinned DuckDB. `uri`: AI_PLATFORM_LAKE_URI; a no-op when it is unset (the lake is a folder)."""
    if uri is None:
        return
    from fsspec.implementations.arrow import ArrowFSWrapper
    from pyarrow import fs

    class S3(ArrowFSWrapper):
        protocol = "s3"  # DuckDB hands this filesystem the paths that start with s3://

    s3, _ = fs.FileSystem.from_uri(uri)
    con.register_filesystem(S3(s3))
