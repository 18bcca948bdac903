"""Model specs: one folder per model with a `defs.yaml` (a `ai_platform.ml.spec.ModelSpec` component)."""
