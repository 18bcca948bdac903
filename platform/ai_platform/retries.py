"""How steps retry: transient errors (an S3 timeout, DuckDB's file lock held by another process) are retried
with back-off; permanent ones (bad data) raise `dg.Failure(allow_retries=False)` and are not."""

import dagster as dg

TRANSIENT_ERRORS = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)
