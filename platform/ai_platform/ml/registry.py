"""The model registry: every weekly model is a version; the champion decisions say which one serves.

A decision is made per week W once the challenger (the model of week W) has been scored on its own,
unseen week: it is promoted if it beats the serving champion on those same days by the spec's margins
and passes its checks, otherwise the champion stays. The decision takes effect from W + 7 days, so the
model serving day D was always chosen (and trained) before D. Decisions, rollbacks and an append-only
audit log are files under <storage root>/registry/<spec>/ (settings.storage_root: the data directory or S3).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

from ai_platform import settings
from ai_platform.files import append_line, write_atomic
from ai_platform.ml import keys
from ai_platform.ml.spec import ModelSpec
from ai_platform.partitions import parse_day

OFFCYCLE = "offcycle-"  # the version (and decision) name prefix of a model trained after a breach: offcycle-<day>


def registry_dir(spec: ModelSpec):
    return settings.storage_root() / "registry" / spec.name


def decision_path(spec: ModelSpec, week: str):
    return registry_dir(spec) / "decisions" / f"{week}.json"


def effective_from(week: str) -> date:
    return parse_day(week) + keys.DECISION_LAG


def version_day(version: str) -> date:
    """A version's day: a weekly version is its week's first day, an off-cycle one its breach day."""
    return parse_day(version.removeprefix(OFFCYCLE))


def offcycle_decisions(spec: ModelSpec) -> dict[str, date]:
    """The off-cycle decisions made: name -> the day they take effect."""
    folder = decision_path(spec, "x").parent
    return {
        p.stem: date.fromisoformat(json.loads(p.read_text())["effective_from"])
        for p in sorted(folder.glob(f"{OFFCYCLE}*.json"))
    }


def decision_week_for(day: date, weeks: list[str], offcycle: dict[str, date] | None = None) -> str | None:
    """The decision that chooses the model serving `day`: the latest one in effect on or before it, weekly or
    off-cycle (`offcycle`: see `offcycle_decisions`). A weekly decision taking effect the same day wins: it was
    made knowing the off-cycle one."""
    in_effect = [(effective_from(w), 1, w) for w in weeks if effective_from(w) <= day]
    in_effect += [(eff, 0, name) for name, eff in (offcycle or {}).items() if eff <= day]
    return max(in_effect)[2] if in_effect else None


@dataclass(frozen=True)
class Candidate:
    version: str  # the model's week, or offcycle-<day>
    roc_auc: float
    log_loss: float
    ece: float
    features_match: bool


def gate_failures(spec: ModelSpec, c: Candidate) -> list[str]:
    """Why `c` may not serve at all (empty: it may)."""
    out = []
    if c.roc_auc < spec.auc_floor:
        out.append(f"AUC {c.roc_auc:.4f} below the floor {spec.auc_floor}")
    if c.ece > spec.ece_ceiling:
        out.append(f"calibration error {c.ece:.4f} above the ceiling {spec.ece_ceiling}")
    if not c.features_match:
        out.append("its features differ from the spec's")
    return out


def decide(
    spec: ModelSpec, week: str, challenger: Candidate, champion: Candidate | None, effective: date | None = None
) -> dict:
    """The promotion decision of `week` (or of an off-cycle version, in effect from `effective`): both
    candidates scored on the challenger's own unseen days."""
    effective = effective or effective_from(week)
    failures = gate_failures(spec, challenger)
    numbers = {"challenger": challenger.__dict__, "champion": champion.__dict__ if champion else None}
    if champion is None:
        if failures:
            return _decision(
                week, effective, "reject", None, None, "no champion yet; challenger " + "; ".join(failures), numbers
            )
        return _decision(
            week, effective, "bootstrap", challenger.version, None, "first model to pass its checks", numbers
        )
    gain = challenger.roc_auc - champion.roc_auc
    loss_increase = challenger.log_loss - champion.log_loss
    if failures:
        reason = "challenger " + "; ".join(failures)
    elif gain < spec.promote_min_auc_gain or gain <= 0:
        reason = f"AUC gain {gain:+.4f} does not beat the margin {spec.promote_min_auc_gain}"
    elif loss_increase > spec.promote_max_logloss_increase:
        reason = f"log loss {loss_increase:+.4f} worse than the tolerance {spec.promote_max_logloss_increase}"
    else:
        reason = f"AUC {challenger.roc_auc:.4f} vs {champion.roc_auc:.4f} ({gain:+.4f}), log loss {loss_increase:+.4f}"
        return _decision(week, effective, "promote", challenger.version, champion.version, reason, numbers)
    return _decision(week, effective, "keep", champion.version, champion.version, reason, numbers)


def rollback(week: str, to: str, previous: str | None, reason: str, numbers: dict) -> dict:
    return _decision(week, effective_from(week), "rollback", to, previous, reason, numbers)


def _decision(
    week: str, effective: date, action: str, champion: str | None, previous: str | None, reason: str, numbers: dict
) -> dict:
    return {
        "week": week,
        "action": action,
        "champion": champion,
        "previous": previous,
        "reason": reason,
        "effective_from": effective.isoformat(),
        "numbers": numbers,
    }


def save_decision(spec: ModelSpec, decision: dict, run_id: str) -> None:
    """Write the week's decision and append it to the audit log (every decision, every time it is made)."""
    write_atomic(decision_path(spec, decision["week"]), json.dumps(decision, indent=2, sort_keys=True).encode())
    record = {**decision, "decided_at": datetime.now(UTC).isoformat(timespec="seconds"), "run_id": run_id}
    append_line(registry_dir(spec) / "audit.jsonl", json.dumps(record, sort_keys=True) + "\n")
    history = [load_decision(spec, p.stem) for p in decision_path(spec, "x").parent.glob("*.json")]
    history.sort(key=lambda d: (d["effective_from"], not d["week"].startswith(OFFCYCLE)))
    write_atomic(registry_dir(spec) / "champion_history.json", json.dumps(history, indent=2).encode())


def load_decision(spec: ModelSpec, week: str) -> dict:
    path = decision_path(spec, week)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no champion decision for week {week}; materialize ml/{spec.name}/champion")
    return json.loads(path.read_text())


def history(spec: ModelSpec) -> list[dict]:
    path = registry_dir(spec) / "champion_history.json"
    return json.loads(path.read_text()) if path.exists() else []


def rollbacks(spec: ModelSpec) -> dict[str, dict]:
    """Rollbacks asked for by config, by week: kept when the week's decision is made again."""
    path = registry_dir(spec) / "rollbacks.json"
    return json.loads(path.read_text()) if path.exists() else {}


def record_rollback(spec: ModelSpec, week: str, to: str, reason: str) -> None:
    requested = {**rollbacks(spec), week: {"to": to, "reason": reason}}
    write_atomic(registry_dir(spec) / "rollbacks.json", json.dumps(requested, indent=2, sort_keys=True).encode())
