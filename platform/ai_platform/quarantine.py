"""Quarantine: a landing file that cannot be ingested is kept, byte for byte, with the reason next to it.

The landing zone itself is never modified. Files are named by their checksum, so the same bytes are
kept once, and a corrected file (other bytes) is not quarantined: the landing sensor leaves quarantined
days out of the range runs it starts, and a corrected file brings the day back.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from ai_platform import settings
from ai_platform.files import sha256, write_atomic
from ai_platform.landing import LandingName
from ai_platform.storage import StoragePath


def quarantine_dir() -> StoragePath:
    return settings.storage_root() / "quarantine"


def _path(name: LandingName, checksum: str) -> StoragePath:
    folder = quarantine_dir() / name.table / (name.day.isoformat() if name.day else "reference")
    return folder / f"{checksum}.csv"


def keep(name: LandingName, source: str, data: bytes, reason: str) -> StoragePath:
    """Copy the file's bytes to the quarantine with `<checksum>.json` holding why; returns the copy's path."""
    checksum = sha256(data)
    path = _path(name, checksum)
    write_atomic(path, data)
    record = {
        "landing_name": str(name),
        "source": source,
        "sha256": checksum,
        "reason": reason,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    write_atomic(path.with_suffix(".json"), json.dumps(record, indent=2, sort_keys=True).encode())
    return path


def is_quarantined(name: LandingName, checksum: str) -> bool:
    return _path(name, checksum).exists()


def has_any(name: LandingName) -> bool:
    """Whether any version of `name` was ever quarantined (cheap: no landing file is read)."""
    return _path(name, "x").parent.exists()
