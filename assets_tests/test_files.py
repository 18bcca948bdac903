"""`files.write_atomic` under kill -9: the file is whole or absent, and a dead writer's temp file does not stay."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from ai_platform.files import write_atomic

# A writer that stops between writing its temp file and renaming it (until a line arrives on stdin): a kill
# -9 then lands at the worst moment of `write_atomic`, every time.
_STOPPED_WRITER = """
import os, sys
from pathlib import Path
from ai_platform import files

def stopped_replace(src, dst):
    print("temp written", flush=True)
    sys.stdin.readline()
    os.rename(src, dst)

files.os.replace = stopped_replace
files.write_atomic(Path(sys.argv[1]), sys.argv[2].encode() * 100_000)
"""


def _stopped_writer(target: Path, text: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_WRITER, str(target), text],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout.readline() == b"temp written\n"
    return proc


def _temps(folder: Path) -> list[Path]:
    return sorted(folder.rglob(".*.tmp"))


def test_a_write_leaves_nothing_in_its_folder_but_the_file(tmp_path):
    target = tmp_path / "landing" / "flights" / "2013-01-01.csv"
    write_atomic(target, b"a")
    write_atomic(target, b"b")
    assert target.read_bytes() == b"b"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_a_write_killed_before_its_rename_leaves_the_old_file_whole_and_its_temp_is_cleared(tmp_path):
    target = tmp_path / "lake" / "data.parquet"
    write_atomic(target, b"old")
    writer = _stopped_writer(target, "new")
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()

    assert target.read_bytes() == b"old"  # never half-new: the old version, whole
    assert len(_temps(target.parent)) == 1  # the dead writer's complete temp file, under a hidden name

    write_atomic(target, b"recovered")  # the re-executed step writes the file again
    assert target.read_bytes() == b"recovered"
    assert _temps(target.parent) == []  # ... and clears what the killed writer left


def test_a_write_killed_before_the_first_version_leaves_no_file(tmp_path):
    target = tmp_path / "models" / "model.txt"
    writer = _stopped_writer(target, "tree")
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()
    assert not target.exists()
    write_atomic(target, b"tree")
    assert target.read_bytes() == b"tree" and _temps(target.parent) == []


def test_a_live_writers_temp_file_is_left_alone(tmp_path):
    """Two writers of one file (not what the platform does, but possible): neither breaks the other; last wins."""
    target = tmp_path / "data.json"
    writer = _stopped_writer(target, "theirs")
    write_atomic(target, b"ours")
    assert target.read_bytes() == b"ours" and len(_temps(tmp_path)) == 1  # theirs is still being written
    writer.communicate(b"go\n", timeout=60)
    assert writer.returncode == 0
    assert target.read_bytes() == b"theirs" * 100_000 and _temps(tmp_path) == []


def test_temp_files_of_other_files_in_the_folder_are_left_alone(tmp_path):
    target, sidecar = tmp_path / "data.parquet", tmp_path / "data.parquet.source.json"
    writer = _stopped_writer(sidecar, "{}")
    os.killpg(writer.pid, signal.SIGKILL)
    writer.wait()
    write_atomic(target, b"parquet")
    assert len(_temps(tmp_path)) == 1  # the sidecar's temp goes when the sidecar is written again
    write_atomic(sidecar, b"{}")
    assert _temps(tmp_path) == []
