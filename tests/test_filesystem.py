"""The write probe and OSError in words (cbrun/filesystem.py), on real filesystems:
`/sys` is a read-only mount even for root, whom `chmod` does not stop."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from cbrun.errors import UsageError
from cbrun.filesystem import describe_os_error, probe_file, probe_folder, reason

READ_ONLY = Path("/sys/cbrun-probe")


def test_a_folder_to_be_is_probed_in_its_nearest_existing_ancestor(tmp_path):
    target = tmp_path / "a" / "b" / "runs"
    assert probe_folder(target, "--runs-dir") == target
    assert not (tmp_path / "a").exists()  # nothing made, nothing left
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="no /sys mount here")
def test_a_read_only_mount_is_refused_naming_the_option_and_the_reason():
    with pytest.raises(UsageError) as caught:
        probe_folder(READ_ONLY / "runs", "--runs-dir")
    message = str(caught.value)
    assert message.startswith(f"--runs-dir: cannot write {READ_ONLY / 'runs'}: /sys: ")
    assert caught.value.exit_code == 2


def test_a_file_in_the_way_and_a_link_loop_are_refused(tmp_path):
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(UsageError, match="blocker is a file, not a folder"):
        probe_folder(tmp_path / "blocker" / "runs", "--runs-dir")
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(UsageError, match="loop is a broken link or a link loop"):
        probe_folder(tmp_path / "loop" / "runs", "data.cache")


def test_a_file_probe_refuses_a_folder_standing_where_the_file_goes(tmp_path):
    (tmp_path / "model.onnx").mkdir()
    with pytest.raises(UsageError, match="is a folder; give a file name"):
        probe_file(tmp_path / "model.onnx", "--output")
    assert probe_file(tmp_path / "new.yaml", "PATH") == tmp_path / "new.yaml"
    with pytest.raises(UsageError, match=r"PATH: cannot write .*x\.yaml: .*: permission|PATH"):
        probe_file(READ_ONLY / "x.yaml", "PATH")


def test_an_os_error_is_its_path_and_its_reason_in_words():
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/run/model.keras")
    assert describe_os_error(error) == "/data/run/model.keras: no space left on the device"
    renamed = OSError(errno.EXDEV, os.strerror(errno.EXDEV), "/a", None, "/b")
    assert describe_os_error(renamed) == "/a -> /b: invalid cross-device link"
    assert reason(OSError(errno.ELOOP, "x")) == "a loop of symbolic links"
    assert describe_os_error(OSError("bare")) == "bare"
