"""The one alert sink the platform's sensors use: run failures, freshness FAIL transitions, failed checks.

Every alert is logged at ERROR and appended as one JSON line to the alerts file; Slack and email are
extra channels, each used only when its environment variables are set. A failing channel is logged as
a warning and never loses the alert or raises. Credentials (webhook URL, SMTP password) are never
written to the alert, the alerts file or the log.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import smtplib
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from ai_platform import settings
from ai_platform.files import append_line

UI_URL_ENV = "AI_PLATFORM_UI_URL"
ALERTS_FILE_ENV = "AI_PLATFORM_ALERTS_FILE"
SLACK_WEBHOOK_URL_ENV = "AI_PLATFORM_SLACK_WEBHOOK_URL"
SMTP_HOST_ENV = "AI_PLATFORM_SMTP_HOST"
SMTP_PORT_ENV = "AI_PLATFORM_SMTP_PORT"
SMTP_USER_ENV = "AI_PLATFORM_SMTP_USER"
SMTP_PASSWORD_ENV = "AI_PLATFORM_SMTP_PASSWORD"
EMAIL_FROM_ENV = "AI_PLATFORM_ALERT_EMAIL_FROM"
EMAIL_TO_ENV = "AI_PLATFORM_ALERT_EMAIL_TO"

DEFAULT_UI_URL = "http://127.0.0.1:3000"
# The metadata key (a list of partition keys) by which a failed check names the partitions it failed on:
# a check's alert is repeated only when that set changes.
FAILING_METADATA = "failing"
TIMEOUT_SECONDS = 10

logger = logging.getLogger(__name__)

# slack_sdk logs the webhook URL (a secret) in its debug and retry messages: give it a logger that says nothing.
_slack_sdk_logger = logging.getLogger(f"{__name__}.slack_sdk")
_slack_sdk_logger.setLevel(logging.CRITICAL + 1)
_slack_sdk_logger.propagate = False


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, kw_only=True)
class Alert:
    kind: str  # "run_failure", "freshness", "check_failed", ...
    summary: str  # one line
    reason: str
    url: str  # a link into the Dagster UI
    asset: str | None = None  # "raw/flights"
    partition: str | None = None
    run_id: str | None = None
    at: str = field(default_factory=_now)  # ISO 8601, UTC

    def text(self) -> str:
        lines = [f"[{self.kind}] {self.summary}"]
        if self.asset is not None:
            lines.append(f"asset: {self.asset}" + (f", partition: {self.partition}" if self.partition else ""))
        elif self.partition is not None:
            lines.append(f"partition: {self.partition}")
        if self.run_id:
            lines.append(f"run: {self.run_id}")
        lines += [f"reason: {self.reason}", f"link: {self.url}", f"at: {self.at}"]
        return "\n".join(lines)


def ui_url(path: str) -> str:
    base = os.environ.get(UI_URL_ENV) or DEFAULT_UI_URL
    return f"{base.rstrip('/')}/{path.lstrip('/')}"


def run_url(run_id: str) -> str:
    return ui_url(f"/runs/{run_id}")


def asset_url(asset_key_path: Sequence[str], partition: str | None = None) -> str:
    """The asset's page; with a partition, its partitions tab with that partition selected (the UI's own links)."""
    path = "/assets/" + "/".join(quote(part, safe="") for part in asset_key_path)
    if partition is not None:
        path += f"?view=partitions&partition={quote(partition, safe='')}"
    return ui_url(path)


def alerts_file() -> Path:
    """`AI_PLATFORM_ALERTS_FILE`, else `$DAGSTER_HOME/alerts.jsonl`, else `alerts.jsonl` in the data directory."""
    if explicit := os.environ.get(ALERTS_FILE_ENV):
        return Path(explicit)
    if home := os.environ.get("DAGSTER_HOME"):
        return Path(home) / "alerts.jsonl"
    return settings.data_dir() / "alerts.jsonl"


def send(alert: Alert, log: logging.Logger | None = None) -> None:
    """Log the alert at ERROR, append it to the alerts file, then try each configured channel.

    `log` is e.g. a Dagster `context.log`; without one, the `ai_platform.alerts` logger. Channel failures
    are logged as warnings; only a failure to append to the alerts file raises, after the channels ran.
    """
    log = log or logger
    alert = dataclasses.replace(alert, **{k: _redact(v) for k, v in dataclasses.asdict(alert).items() if v})
    text = alert.text()
    log.error(text)
    try:
        append_line(alerts_file(), json.dumps(dataclasses.asdict(alert), ensure_ascii=False) + "\n")
    finally:
        for name, deliver in _channels():
            try:
                deliver(alert)
            except Exception as err:  # a channel must not lose the alert nor fail the caller
                log.warning(f"alert channel {name} failed: {type(err).__name__}: {_redact(str(err))}")


def _redact(text: str) -> str:
    for secret in (os.environ.get(SLACK_WEBHOOK_URL_ENV), os.environ.get(SMTP_PASSWORD_ENV)):
        if secret:
            text = text.replace(secret, "***")
    return text


def _channels() -> list[tuple[str, Callable[[Alert], None]]]:
    channels: list[tuple[str, Callable[[Alert], None]]] = []
    if os.environ.get(SLACK_WEBHOOK_URL_ENV):
        channels.append(("slack", _post_to_slack))
    if os.environ.get(SMTP_HOST_ENV):
        channels.append(("email", _send_email))
    return channels


def _post_to_slack(alert: Alert) -> None:
    from slack_sdk.webhook import WebhookClient

    client = WebhookClient(
        os.environ[SLACK_WEBHOOK_URL_ENV],
        timeout=TIMEOUT_SECONDS,
        logger=_slack_sdk_logger,
        retry_handlers=[],  # one attempt: a sensor tick must not wait on retries; the alert is in the file anyway
    )
    response = client.send(text=alert.text())
    if response.status_code != 200:
        raise RuntimeError(f"webhook answered HTTP {response.status_code}: {response.body[:200]}")


def _send_email(alert: Alert) -> None:
    sender = os.environ.get(EMAIL_FROM_ENV)
    recipients = [a.strip() for a in (os.environ.get(EMAIL_TO_ENV) or "").split(",") if a.strip()]
    if not sender or not recipients:
        raise ValueError(f"{EMAIL_FROM_ENV} and {EMAIL_TO_ENV} must both be set")
    message = EmailMessage()
    message["Subject"] = " ".join(f"[ai-platform] {alert.kind}: {alert.summary}".split())
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message.set_content(alert.text())
    port = int(os.environ.get(SMTP_PORT_ENV) or 25)
    with smtplib.SMTP(os.environ[SMTP_HOST_ENV], port, timeout=TIMEOUT_SECONDS) as smtp:
        if user := os.environ.get(SMTP_USER_ENV):
            smtp.starttls(context=ssl.create_default_context())  # verifies the server before sending the password
            smtp.login(user, os.environ.get(SMTP_PASSWORD_ENV) or "")
        smtp.send_message(message)
