"""Credentials come only from environment variables and never appear in metadata, logs, alerts or files.

A run reads the landing zone from a real S3 server (signed with a secret key) and fails on a bad file; the
failure is alerted through Slack and email channels whose secrets are set but unreachable. Then everything
Dagster and the platform wrote is searched for the secrets: every event of every run, run tags and config,
captured output and log records, the alerts file, and every file under the instance and data directories.
"""

import logging
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._serdes import serialize_value

from ai_platform import settings
from ai_platform.automation.alert_sensors import alert_on_run_failure
from ai_platform.landing import day_name, open_zone
from ai_platform.tools.replay import replay
from runs import materialize_reference
from sensor_runs import execute, tick

WEBHOOK_TOKEN = "XOXB-WEBHOOK-SECRET-7f3a9c"
SMTP_PASSWORD = "smtp-password-SECRET-51d2"


def test_no_secret_reaches_metadata_logs_alerts_or_files(
    s3_server, data_dir, instance, tmp_path, monkeypatch, capfd, caplog
):
    caplog.set_level(logging.INFO)  # (botocore's own DEBUG lines show the access key id, as AWS documents)
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    bucket = "secrets-test"
    s3_server.client().create_bucket(Bucket=bucket)
    monkeypatch.setenv(settings.LANDING_URI_ENV, f"s3://{bucket}/landing")
    alerts_file = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("AI_PLATFORM_ALERTS_FILE", str(alerts_file))
    # Both channels are configured with secrets and point at a closed port: their failures get logged.
    monkeypatch.setenv("AI_PLATFORM_SLACK_WEBHOOK_URL", f"http://127.0.0.1:9/services/T0/B0/{WEBHOOK_TOKEN}")
    monkeypatch.setenv("AI_PLATFORM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AI_PLATFORM_SMTP_PORT", "9")
    monkeypatch.setenv("AI_PLATFORM_SMTP_USER", "alerts")
    monkeypatch.setenv("AI_PLATFORM_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("AI_PLATFORM_ALERT_EMAIL_FROM", "platform@example.org")
    monkeypatch.setenv("AI_PLATFORM_ALERT_EMAIL_TO", "oncall@example.org")

    zone = open_zone(settings.landing_uri())
    replay(zone, date(2013, 1, 1), date(2013, 1, 2))
    zone.write_if_changed(day_name("flights", date(2013, 1, 2)), b"")  # a bad file: the run fails
    materialize_reference(instance)
    (request,), _ = tick(instance)
    result = execute(instance, request)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)[0].dagster_event
    with dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure", dagster_instance=instance, dagster_run=run, dagster_event=failure
    ) as context:
        alert_on_run_failure(context.for_run_failure())
    assert "the file is empty" in alerts_file.read_text()  # the alert went out, with the reason

    secrets = {
        "AWS secret key": s3_server.secret_key,
        "AWS access key": s3_server.access_key,
        "Slack webhook token": WEBHOOK_TOKEN,
        "SMTP password": SMTP_PASSWORD,
    }
    places = {"captured output": "".join(capfd.readouterr()), "log records": caplog.text}
    said = places["captured output"] + places["log records"]
    assert "alert channel slack failed" in said and "alert channel email failed" in said, said[-3000:]
    for r in instance.get_runs():
        places[f"run {r.run_id} tags/config"] = serialize_value(r)
        places[f"run {r.run_id} events"] = "\n".join(serialize_value(e) for e in instance.all_logs(r.run_id))
    written = [*tmp_path.rglob("*"), *Path(instance.root_directory).rglob("*")]
    for path in written:  # the data directory and the alerts file, the instance's storage
        if path.is_file():
            places[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    assert len(places) > 20
    leaks = [
        f"{what} in {where}" for where, text in places.items() for what, secret in secrets.items() if secret in text
    ]
    assert leaks == []
