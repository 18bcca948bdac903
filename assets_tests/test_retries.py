"""Transient errors are retried with back-off: DuckDB's file lock held by another process, an S3 server that
does not answer. Bad data is not retried (see raw/test_bad_input_corpus.py)."""

import socket
import socketserver
import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date

import dagster as dg
import duckdb

from ai_platform import lake, settings
from ai_platform.landing import open_zone
from ai_platform.tools.replay import replay
from processes import free_port
from runs import materialize_days, materialize_reference

DAY = date(2013, 1, 2)


@contextmanager
def on_first_retry(instance: dg.DagsterInstance, action: Callable[[], None]):
    """Runs `action` as soon as a step of any run of `instance` is up for retry (or on exit)."""
    retried = threading.Event()

    def watch():
        while not retried.wait(0.2):
            if any(
                instance.all_logs(r.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY) for r in instance.get_runs()
            ):
                retried.set()
        action()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        retried.set()
        watcher.join(timeout=30)


def retry_errors(result: dg.ExecuteInProcessResult) -> list[str]:
    return [str(e.event_specific_data.error) for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]


def test_the_dbt_step_waits_out_a_warehouse_lock_held_by_another_process(zone, data_dir, instance):
    replay(zone, date(2013, 1, 1), DAY)
    materialize_reference(instance)
    settings.warehouse_path().parent.mkdir(parents=True, exist_ok=True)
    holder = duckdb.connect(str(settings.warehouse_path()))  # the test process holds the single-writer lock

    with on_first_retry(instance, holder.close):
        result = materialize_days(instance, DAY, DAY)

    assert result.success
    (error,) = retry_errors(result)
    assert "Could not set lock on file" in error
    assert lake.features_day_path("flight_features", DAY).exists()


class _Forward(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def forwarder(port: int, target: tuple[str, int]) -> _Forward:
    """A TCP proxy on 127.0.0.1:`port` to `target`: the S3 server 'coming back'."""

    class Pipe(socketserver.BaseRequestHandler):
        def handle(self):
            with socket.create_connection(target) as upstream:
                back = threading.Thread(target=self._copy, args=(upstream, self.request), daemon=True)
                back.start()
                self._copy(self.request, upstream)
                back.join()

        @staticmethod
        def _copy(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    server = _Forward(("127.0.0.1", port), Pipe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_raw_ingestion_waits_out_an_s3_server_that_is_down(s3_server, data_dir, instance, monkeypatch):
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    s3_server.client().create_bucket(Bucket="retries")
    monkeypatch.setenv(settings.LANDING_URI_ENV, "s3://retries/landing")
    replay(open_zone(settings.landing_uri()), date(2013, 1, 1), DAY)
    materialize_reference(instance)

    port = free_port()  # nothing listens there yet: connections are refused
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    upstream = s3_server.endpoint_url.removeprefix("http://").split(":")
    servers = []

    with on_first_retry(instance, lambda: servers.append(forwarder(port, (upstream[0], int(upstream[1]))))):
        result = materialize_days(instance, DAY, DAY)
    for server in servers:
        server.shutdown()

    assert result.success
    assert retry_errors(result) and all("Could not connect to the endpoint URL" in e for e in retry_errors(result))
    assert lake.source_of(lake.raw_day_path("flights", DAY))["source"] == "s3://retries/landing/flights/2013-01-02.csv"
