"""ai_platform: an asset-based ML data platform on Dagster (flight-delay use case)."""

import os

# OpenMP (LightGBM's, scikit-learn's) reads this once, when its library loads: set before anything imports them.
# Spinning threads waiting at OpenMP's barriers burn the cores another process needs: beside one CPU-bound
# process on 2 cores, training with spinning threads ran several times slower than with passive ones.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
