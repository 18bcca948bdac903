"""Writing files whole or not at all, and their checksums; for a local folder and for S3 (ai_platform/storage.py)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath

from ai_platform.storage import StoragePath, as_path, is_local, objects_under, read_bytes, size_and_etag, write_bytes


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Temp files go to a hidden subfolder: clearing a dead writer's temps then lists only the writes in flight there,
# not every file of the folder (a landing folder gains a file per day of history). The subfolder is removed once
# empty, so the folders users and readers see hold only their files.
TEMP_FOLDER = ".tmp"


FileVersion = tuple[str, int, int, int | str]


def file_version(path: StoragePath) -> FileVersion:
    """What identifies the current content of `path` for a cache: its path, inode, size and mtime (on S3 its ETag,
    as S3's modification time counts whole seconds). `write_atomic` renames a new file over the old one, so a
    rewritten file is a new version; raises FileNotFoundError."""
    if is_local(path):
        stat = path.stat()
        return str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns
    return str(path), 0, *size_and_etag(path)


def file_versions(folder: StoragePath, pattern: str) -> list[FileVersion]:
    """`file_version` of each file under `folder` matching the glob `pattern`, in name order. On S3 from one
    listing, not two requests a file: the scoring service asks every second (serving/state.py)."""
    if is_local(folder):
        return [file_version(p) for p in sorted(folder.glob(pattern))]
    depth = len(PurePosixPath(pattern).parts)
    return sorted(
        (str(folder / name), 0, obj["Size"], obj["ETag"])
        for name, obj in objects_under(folder)
        if len(PurePosixPath(name).parts) == depth and PurePosixPath(name).match(pattern)
    )


def read_version(file: FileVersion) -> bytes:
    """The bytes of the file a `file_version` names."""
    return read_bytes(as_path(file[0]))


def _remove_dead_writers_temps(path: Path) -> None:
    """Delete the temp files of `path` whose writer process has died (killed between its write and its rename).

    A temp file is named `.tmp/.<name>.<writer pid>.<random>.tmp`; one of a live process (another writer of the same
    file) is left alone. Writers of one data directory run on one machine (its lake is a local folder).
    """
    prefix = f".{path.name}."
    try:
        entries = list(os.scandir(path.parent / TEMP_FOLDER))
    except FileNotFoundError:  # another writer removed the empty subfolder after its own write
        return
    for entry in entries:
        if not (entry.name.startswith(prefix) and entry.name.endswith(".tmp")):
            continue
        pid = entry.name[len(prefix) :].split(".")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            Path(entry.path).unlink(missing_ok=True)
        except PermissionError:
            pass  # alive, another user's


def write_atomic(path: StoragePath, data: bytes) -> None:
    """Write the whole file or nothing: a temp file in the folder's `.tmp/`, then a rename (on S3 a PUT, which
    replaces an object whole).

    Writing a file again also clears the temp files that a killed earlier writer of it left behind.
    """
    if not is_local(path):
        write_bytes(path, data)
        return
    folder = path.parent / TEMP_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    _remove_dead_writers_temps(path)
    while True:
        try:
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
            break
        except FileNotFoundError:  # another writer removed the empty subfolder after its own write
            folder.mkdir(parents=True, exist_ok=True)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        folder.rmdir()
    except OSError:
        pass  # another write is in flight there, or a killed writer's temp waits for its file's next write


def write_if_changed(path: StoragePath, data: bytes) -> bool:
    """Write only when the bytes differ from what is there; returns whether it wrote."""
    try:
        if read_bytes(path) == data:
            return False
    except FileNotFoundError:
        pass
    write_atomic(path, data)
    return True


def append_line(path: StoragePath, line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor: lines from concurrent processes never
    interleave, and a kill cannot split it (a signal is handled after the write returns).

    S3 has no append: the object is read and written again whole, so of two processes appending to one object at
    the same moment, one line can be lost (on S3, the registry's audit log of two runs deciding at once)."""
    if not is_local(path):
        try:
            before = read_bytes(path)
        except FileNotFoundError:
            before = b""
        write_bytes(path, before + line.encode())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = line.encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
