"""The alert sink against real receivers: a local HTTP server for the Slack webhook, aiosmtpd for email."""

import dataclasses
import email
import email.policy
import json
import logging
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller

from ai_platform import alerts
from processes import free_port

WEBHOOK_PATH = "/services/T0000/B0000/not-a-real-token"


def make_alert(**changes) -> alerts.Alert:
    alert = alerts.Alert(
        kind="check_failed",
        summary="check rows_not_empty failed on raw/flights",
        reason="0 rows in partition 2013-01-07",
        asset="raw/flights",
        partition="2013-01-07",
        run_id="run-123",
        url=alerts.asset_url(["raw", "flights"], "2013-01-07"),
    )
    return dataclasses.replace(alert, **changes)


def read_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A DAGSTER_HOME of the test's own, and no alert settings from the surrounding environment."""
    for name in (
        alerts.UI_URL_ENV,
        alerts.ALERTS_FILE_ENV,
        alerts.SLACK_WEBHOOK_URL_ENV,
        alerts.SMTP_HOST_ENV,
        alerts.SMTP_PORT_ENV,
        alerts.SMTP_USER_ENV,
        alerts.SMTP_PASSWORD_ENV,
        alerts.EMAIL_FROM_ENV,
        alerts.EMAIL_TO_ENV,
    ):
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def webhook(monkeypatch):
    """A local HTTP server standing in for Slack; yields the bodies it was POSTed."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}{WEBHOOK_PATH}"
    monkeypatch.setenv(alerts.SLACK_WEBHOOK_URL_ENV, url)
    yield url, received
    server.shutdown()
    server.server_close()
    thread.join()


class Collect:
    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server(monkeypatch):
    """A local SMTP server (no STARTTLS) that keeps what it receives."""
    handler = Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv(alerts.SMTP_HOST_ENV, "127.0.0.1")
    monkeypatch.setenv(alerts.SMTP_PORT_ENV, str(port))
    monkeypatch.setenv(alerts.EMAIL_FROM_ENV, "platform@example.com")
    monkeypatch.setenv(alerts.EMAIL_TO_ENV, "oncall@example.com, data@example.com")
    yield handler
    controller.stop()


def test_each_alert_is_logged_and_appended_as_one_json_line_under_dagster_home(home, caplog):
    first = make_alert()
    second = make_alert(kind="run_failure", summary="run run-456 failed", asset=None, partition=None, run_id="run-456")

    alerts.send(first)
    alerts.send(second)

    assert read_lines(home / "alerts.jsonl") == [dataclasses.asdict(first), dataclasses.asdict(second)]
    assert set(dataclasses.asdict(first)) == {"kind", "summary", "reason", "asset", "partition", "run_id", "url", "at"}
    text = first.text()
    for part in ("raw/flights", "2013-01-07", "0 rows in partition 2013-01-07", first.url):
        assert part in text
    errors = [r for r in caplog.records if r.name == "ai_platform.alerts" and r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [first.text(), second.text()]


def test_ui_links_follow_the_configured_base(home, monkeypatch):
    assert alerts.run_url("abc") == "http://127.0.0.1:3000/runs/abc"
    monkeypatch.setenv(alerts.UI_URL_ENV, "https://dagster.example.com/")
    assert alerts.ui_url("/runs/abc") == "https://dagster.example.com/runs/abc"
    assert alerts.asset_url(["raw", "flights"]) == "https://dagster.example.com/assets/raw/flights"
    assert (
        alerts.asset_url(["features", "daily delays"], "2013-01-07|JFK")
        == "https://dagster.example.com/assets/features/daily%20delays?view=partitions&partition=2013-01-07%7CJFK"
    )


def test_the_alerts_file_can_be_named_and_falls_back_to_the_data_dir(home, data_dir, monkeypatch, tmp_path):
    monkeypatch.setenv(alerts.ALERTS_FILE_ENV, str(tmp_path / "elsewhere" / "a.jsonl"))
    assert alerts.alerts_file() == tmp_path / "elsewhere" / "a.jsonl"
    monkeypatch.delenv(alerts.ALERTS_FILE_ENV)
    monkeypatch.delenv("DAGSTER_HOME")
    alerts.send(make_alert())
    assert len(read_lines(data_dir / "alerts.jsonl")) == 1


SEND_MANY = """
import logging, sys
from ai_platform import alerts
logging.getLogger("ai_platform.alerts").disabled = True
for i in range(50):
    alert = alerts.Alert(kind="run_failure", summary="s", reason="x" * 20_000, url="u", run_id=f"{sys.argv[1]}-{i}")
    alerts.send(alert)
"""


def test_processes_appending_at_once_never_interleave_lines(home):
    workers = [subprocess.Popen([sys.executable, "-c", SEND_MANY, str(w)]) for w in range(4)]
    assert [p.wait(timeout=120) for p in workers] == [0, 0, 0, 0]
    lines = read_lines(home / "alerts.jsonl")  # each line parses: none was torn by another process
    assert sorted(line["run_id"] for line in lines) == sorted(f"{w}-{i}" for w in range(4) for i in range(50))


def test_slack_receives_the_text_and_the_webhook_url_is_written_nowhere(home, webhook, caplog):
    url, received = webhook
    caplog.set_level(logging.DEBUG)
    alert = make_alert()

    alerts.send(alert)

    assert [r["path"] for r in received] == [WEBHOOK_PATH]
    assert alert.text() in received[0]["json"]["text"]
    assert url not in (home / "alerts.jsonl").read_text()
    assert url not in caplog.text and "not-a-real-token" not in caplog.text
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_email_reaches_every_recipient(home, smtp_server):
    alert = make_alert()

    alerts.send(alert)

    [envelope] = smtp_server.envelopes
    assert envelope.mail_from == "platform@example.com"
    assert envelope.rcpt_tos == ["oncall@example.com", "data@example.com"]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    # strip: the SMTP policy folds a long Subject right after "Subject:", and unfolding keeps that space
    assert message["Subject"].strip() == "[ai-platform] check_failed: check rows_not_empty failed on raw/flights"
    assert message["To"] == "oncall@example.com, data@example.com"
    assert message.get_content().splitlines() == alert.text().splitlines()  # CRLF on the wire


def test_an_unreachable_slack_loses_nothing_and_leaks_no_url(home, monkeypatch, caplog):
    url = f"http://127.0.0.1:{free_port()}{WEBHOOK_PATH}"
    monkeypatch.setenv(alerts.SLACK_WEBHOOK_URL_ENV, url)
    caplog.set_level(logging.DEBUG)

    alerts.send(make_alert(reason=f"POST {url} timed out"))  # a secret passed in by mistake is redacted too

    [line] = read_lines(home / "alerts.jsonl")
    assert line["reason"] == "POST *** timed out"
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "alert channel slack failed" in warning.getMessage()
    assert url not in caplog.text and "not-a-real-token" not in caplog.text


def test_smtp_login_failure_is_a_warning_without_the_password(home, smtp_server, monkeypatch, caplog):
    monkeypatch.setenv(alerts.SMTP_USER_ENV, "platform")
    monkeypatch.setenv(alerts.SMTP_PASSWORD_ENV, "hunter2-secret")

    alerts.send(make_alert())  # the test server offers no STARTTLS, so no password is ever sent

    assert smtp_server.envelopes == []
    assert len(read_lines(home / "alerts.jsonl")) == 1
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "alert channel email failed" in warning.getMessage()
    assert "hunter2-secret" not in caplog.text


def test_an_unwritable_alerts_file_still_reaches_the_channels_then_raises(home, webhook, monkeypatch, caplog):
    _, received = webhook
    monkeypatch.setenv(alerts.ALERTS_FILE_ENV, str(home))  # a directory

    with pytest.raises(IsADirectoryError):
        alerts.send(make_alert())

    assert len(received) == 1
    assert [r.levelno for r in caplog.records if r.name == "ai_platform.alerts"] == [logging.ERROR]


def test_a_dagster_context_log_records_the_alert_in_the_run(home, instance):
    alert = make_alert()

    @dg.asset
    def alerting(context: dg.AssetExecutionContext) -> None:
        alerts.send(alert, log=context.log)

    result = dg.materialize([alerting], instance=instance)

    logged = [e for e in instance.all_logs(result.run_id) if e.level == logging.ERROR]
    assert [e.user_message for e in logged] == [alert.text()]
    # instance_for_test points DAGSTER_HOME at the instance's own folder, as `dagster dev` does
    assert read_lines(Path(instance.root_directory) / "alerts.jsonl") == [dataclasses.asdict(alert)]
