"""ai_platform: an asset-based ML data platform on Dagster (flight-delay use case)."""
