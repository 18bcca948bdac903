"""A dbt-duckdb plugin (dbt_project/profiles.yml, `plugins:`): dbt's DuckDB reads the lake's s3:// paths when
AI_PLATFORM_LAKE_URI puts the lake on S3 (ai_platform/storage.py); nothing changes when the lake is a folder."""

from dbt.adapters.duckdb.plugins import BasePlugin

from ai_platform import settings, storage


class Plugin(BasePlugin):
    def configure_connection(self, conn) -> None:
        storage.register_with_duckdb(conn, settings.lake_uri())
