"""What the service serves: each spec's champion and the online snapshot, swapped whole when files change.

A request reads `Holder.current` once, so it sees one consistent state; a watcher thread rebuilds the state
in the background when a champion decision, a served model file or the newest snapshot changes, and swaps the
reference (an atomic assignment): no restart, no request refused meanwhile.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import timedelta

from ai_platform.files import file_version, file_versions
from ai_platform.ml import registry, training
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import parse_day
from ai_platform.serving import snapshot as snapshots
from ai_platform.serving.snapshot import Snapshot

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Served:
    """A spec's champion in effect on the day after the snapshot (the first day the service scores)."""

    spec: ModelSpec
    version: str | None  # None: no champion yet
    decision_week: str | None
    reason: str = ""
    booster: object = None  # lightgbm.Booster
    codes: dict = field(default_factory=dict)  # training.category_codes of its vocabulary


@dataclass(frozen=True)
class State:
    snapshot: Snapshot | None
    models: dict[str, Served]
    fingerprint: tuple


def fingerprint(specs: list[ModelSpec]) -> tuple:
    """Changes whenever what `load` reads changes: decisions, model files, the newest snapshot."""
    parts: list = [file_version(p) if (p := snapshots.latest()) else None]
    for spec in specs:
        parts += file_versions(registry.decision_path(spec, "x").parent, "*.json")
        models = training.model_dir(spec, "x").parent
        parts += file_versions(models, "*/model.txt")
    return tuple(parts)


def _champion(spec: ModelSpec, snapshot: Snapshot | None, previous: Served | None) -> Served:
    if snapshot is None:
        return Served(spec, None, None, "no online features snapshot yet: materialize online_features")
    weeks = sorted(p.stem for p in registry.decision_path(spec, "x").parent.glob("*.json"))
    day = snapshot.as_of + timedelta(days=1)
    week = registry.decision_week_for(day, weeks)
    if week is None:
        return Served(spec, None, None, f"no champion decision in effect on {day}")
    version = registry.load_decision(spec, week)["champion"]
    if version is None:
        return Served(spec, None, week, f"decision {week} has no champion")
    card = training.load_card(spec, version)
    if parse_day(card["training_window"][1]) >= day:  # as the batch predictions refuse it: it saw the day
        raise ValueError(f"model {version} was trained on days up to {card['training_window'][1]}, not before {day}")
    model_file = training.model_dir(spec, version) / "model.txt"
    if previous is not None and previous.version == version and previous.booster is not None:
        booster = previous.booster  # the same file: keep the loaded model
    else:
        booster = training.load_model(model_file)
    if booster.feature_name() != list(spec.features):
        raise ValueError(f"model {version}'s features differ from spec {spec.name}'s")
    return Served(spec, version, week, "", booster, training.category_codes(card["categorical_vocabulary"]))


def load(specs: list[ModelSpec], previous: State | None = None) -> State:
    mark = fingerprint(specs)
    path = snapshots.latest()
    if (
        previous is not None
        and previous.snapshot is not None
        and previous.snapshot.path == path
        and (previous.fingerprint[0] == mark[0])
    ):
        snap = previous.snapshot
    else:
        snap = snapshots.load(path) if path else None
    old = previous.models if previous else {}
    return State(snap, {s.name: _champion(s, snap, old.get(s.name)) for s in specs}, mark)


class Holder:
    """The current state, and the thread that reloads it when its files change (every `poll_seconds`)."""

    def __init__(self, specs: list[ModelSpec], poll_seconds: float = 1.0):
        self.specs = specs
        self.poll_seconds = poll_seconds
        self.current = load(specs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="serving-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def reload_if_changed(self) -> bool:
        if fingerprint(self.specs) == self.current.fingerprint:
            return False
        self.current = load(self.specs, self.current)
        log.info("serving state reloaded: %s", {n: m.version for n, m in self.current.models.items()})
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.reload_if_changed()
            except Exception:  # a file mid-change or a broken model: keep serving the last good state
                log.exception("serving state reload failed; still serving the previous one")
