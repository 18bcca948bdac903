"""Shared files on S3 (AI_PLATFORM_LAKE_URI) against a real S3 server: what the platform's file helpers and dbt's
DuckDB need from it. The whole graph on S3: test_lake_on_s3.py."""

from datetime import date

import duckdb
import polars as pl
import pytest

from ai_platform import lake, settings, storage
from ai_platform.files import append_line, file_version, file_versions, write_atomic

D1, D2 = date(2013, 1, 1), date(2013, 1, 2)


@pytest.fixture
def s3_lake(s3_server, monkeypatch, request):
    """AI_PLATFORM_LAKE_URI on a bucket of this test's own."""
    bucket = request.node.name.replace("_", "-")[:60].strip("-")
    s3_server.client().create_bucket(Bucket=bucket)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(settings.LAKE_URI_ENV, f"s3://{bucket}/shared")
    return bucket


@pytest.mark.parametrize("uri", ["/mnt/lake", "s3://", "s3:///prefix", "gs://bucket/prefix"])
def test_a_lake_uri_that_is_not_an_s3_bucket_is_refused_with_the_form_expected(uri, monkeypatch):
    monkeypatch.setenv(settings.LAKE_URI_ENV, uri)
    with pytest.raises(ValueError, match=r"AI_PLATFORM_LAKE_URI=.*expected s3://<bucket>\[/<prefix>\]"):
        settings.storage_root()


def test_without_a_lake_uri_the_shared_files_are_under_the_data_directory(data_dir):
    assert settings.storage_root() == data_dir
    assert lake.raw_day_path("flights", D1).is_relative_to(data_dir / "lake")


def test_files_on_s3_are_written_whole_versioned_by_content_and_appended(s3_lake, s3_server):
    path = settings.models_dir() / "spec" / "2013-W02" / "model_card.json"
    assert str(path) == f"s3://{s3_lake}/shared/models/spec/2013-W02/model_card.json"
    with pytest.raises(FileNotFoundError):
        file_version(path)

    write_atomic(path, b'{"v": 1}')
    first = file_version(path)
    write_atomic(path, b'{"v": 2}')  # same size, within the same second of S3's modification time
    assert file_version(path) != first
    assert path.read_bytes() == b'{"v": 2}'

    log = settings.storage_root() / "registry" / "spec" / "audit.jsonl"
    append_line(log, '{"week": "2013-W01"}\n')
    append_line(log, '{"week": "2013-W02"}\n')
    assert log.read_text().splitlines() == ['{"week": "2013-W01"}', '{"week": "2013-W02"}']
    body = s3_server.client().get_object(Bucket=s3_lake, Key="shared/registry/spec/audit.jsonl")["Body"].read()
    assert body == log.read_bytes()


def test_file_versions_of_an_s3_folder_match_its_glob_as_a_local_folder_does(s3_lake, tmp_path):
    s3_models = settings.models_dir() / "spec"
    for root in (s3_models, tmp_path):
        for name in ("2013-W02/model.txt", "2013-W01/model.txt", "2013-W01/model_card.json", "old/2013-W01/model.txt"):
            write_atomic(root / name, name.encode())
    listed = file_versions(s3_models, "*/model.txt")
    names = [v[0].removeprefix(str(s3_models)) for v in listed]
    assert names == [v[0].removeprefix(str(tmp_path)) for v in file_versions(tmp_path, "*/model.txt")]
    assert names == ["/2013-W01/model.txt", "/2013-W02/model.txt"]

    write_atomic(s3_models / "2013-W01" / "model.txt", b"2013-W01/model.TXT")  # same size, new content
    assert file_versions(s3_models, "*/model.txt") != listed


def test_existing_answers_for_each_path_from_one_listing_and_a_missing_file_raises_file_not_found(s3_lake):
    paths = [lake.raw_day_path("flights", date(2013, 1, d)) for d in range(1, 6)]
    for path in paths[::2]:
        write_atomic(path, b"x")
    write_atomic(lake.raw_day_path("flights", date(2013, 1, 2)).with_name("data.parquet.source.json"), b"{}")
    assert storage.existing(paths) == [True, False, True, False, True]
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(paths[1])
    with pytest.raises(FileNotFoundError):
        storage.scan_parquet(paths[1])


def test_duckdb_reads_the_s3_lake_as_dbt_sources_do(s3_lake):
    for day, rows in ((D1, 3), (D2, 2)):
        path = lake.raw_day_path("flights", day)
        lake.write_parquet(pl.DataFrame({"flight_id": list(range(rows))}), path, {"sha256": "x"})
        assert lake.source_of(path) == {"sha256": "x"}
        assert storage.read_parquet(path).height == rows

    con = duckdb.connect()
    storage.register_with_duckdb(con, settings.lake_uri())
    pattern = f"{settings.lake_dir()}/raw/flights/*/data.parquet"
    counts = con.sql(
        f"select date, count(*) from read_parquet('{pattern}', hive_partitioning = true) group by all order by 1"
    )
    assert counts.fetchall() == [(D1, 3), (D2, 2)]
