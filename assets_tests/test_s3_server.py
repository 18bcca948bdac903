"""The `s3_server` fixture is a real S3 server reachable through dagster_aws's S3Resource."""

import hashlib
import os

from dagster_aws.s3 import S3Resource

from s3_server import S3Server


def test_s3_round_trip_through_s3_resource(s3_server: S3Server):
    s3 = s3_server.client()
    bucket = "round-trip"
    s3.create_bucket(Bucket=bucket)
    first, second = b"first object\n", os.urandom(100_000)
    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=first)
    s3.put_object(Bucket=bucket, Key="dir/b.bin", Body=second)

    listed = {o["Key"]: o for o in s3.list_objects_v2(Bucket=bucket, Prefix="dir/")["Contents"]}
    assert sorted(listed) == ["dir/a.txt", "dir/b.bin"]
    assert listed["dir/b.bin"]["Size"] == len(second)
    assert listed["dir/b.bin"]["ETag"].strip('"') == hashlib.md5(second).hexdigest()
    assert all(o["LastModified"].tzinfo is not None for o in listed.values())

    assert s3.get_object(Bucket=bucket, Key="dir/b.bin")["Body"].read() == second

    s3.put_object(Bucket=bucket, Key="dir/a.txt", Body=b"rewritten\n")
    rewritten = s3.head_object(Bucket=bucket, Key="dir/a.txt")
    assert rewritten["ETag"] != listed["dir/a.txt"]["ETag"]
    assert rewritten["LastModified"] >= listed["dir/a.txt"]["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="dir/a.txt")["Body"].read() == b"rewritten\n"


def test_s3_resource_without_settings_follows_aws_env_vars(s3_server: S3Server, monkeypatch):
    """boto3 honours AWS_ENDPOINT_URL, so an `S3Resource()` with no settings reaches the server via env() alone."""
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    s3_server.client().create_bucket(Bucket="env-configured")

    client = S3Resource().get_client()
    assert client.meta.endpoint_url == s3_server.endpoint_url
    assert "env-configured" in {b["Name"] for b in client.list_buckets()["Buckets"]}
