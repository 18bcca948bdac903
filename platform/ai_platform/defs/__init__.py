"""Model specs: one folder per model with a `defs.yaml` (an `ai_platform.ml.component.ModelComponent`)."""
