"""Files written whole or not at all (core/atomic.py), and never in place of what is not a file."""
import os
import stat

import pytest

from minirnn.core import atomic
from minirnn.core.atomic import atomic_write


def write_bytes(data: bytes):
    return lambda file: file.write(data)


def test_a_new_file_holds_what_was_written(tmp_path):
    atomic_write(tmp_path / "a.bin", write_bytes(b"new"))
    assert (tmp_path / "a.bin").read_bytes() == b"new" and os.listdir(tmp_path) == ["a.bin"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "data.bin"
    target.write_bytes(b"old")
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    atomic_write(link, write_bytes(b"new"))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == ["link.bin", "real"] and os.listdir(tmp_path / "real") == ["data.bin"]


def test_a_dangling_symlink_creates_the_file_it_names(tmp_path):
    link = tmp_path / "link.bin"
    link.symlink_to(tmp_path / "made.bin")
    atomic_write(link, write_bytes(b"new"))
    assert link.is_symlink() and (tmp_path / "made.bin").read_bytes() == b"new"


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path, mode):
    path = tmp_path / "private.bin"
    path.write_bytes(b"old")
    path.chmod(mode)
    atomic_write(path, write_bytes(b"new"))
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == b"new"


def test_a_fifo_is_refused_by_its_name_and_stays(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=f"^{fifo} is a FIFO, not a regular file"):
        atomic_write(fifo, write_bytes(b"new"))
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.listdir(tmp_path) == ["pipe"]


def test_a_link_to_a_fifo_is_refused_by_the_name_given(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link").symlink_to(tmp_path / "pipe")
    with pytest.raises(ValueError, match=f"^{tmp_path / 'link'} is a FIFO"):
        atomic_write(tmp_path / "link", write_bytes(b"new"))
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode) and (tmp_path / "link").is_symlink()


def test_a_directory_is_refused_by_its_name_not_a_temporary(tmp_path):
    with pytest.raises(ValueError, match=f"^{tmp_path} is a directory, not a regular file"):
        atomic_write(tmp_path, write_bytes(b"new"))
    assert os.listdir(tmp_path) == []


def test_a_device_is_refused_and_left_in_place(tmp_path, monkeypatch):
    """A character device, as the writer sees it: a stand-in file whose stat says so (no real device is touched)."""
    device = tmp_path / "full"
    device.write_bytes(b"the device")
    real_stat = os.stat

    def as_a_device(path, *args, **kwargs):
        status = real_stat(path, *args, **kwargs)
        if os.fspath(path) != os.fspath(device):
            return status
        return os.stat_result((stat.S_IFCHR | 0o666, *tuple(status)[1:]))

    monkeypatch.setattr(atomic.os, "stat", as_a_device)
    with pytest.raises(ValueError, match=f"^{device} is a character device, not a regular file"):
        atomic_write(device, write_bytes(b"new"))
    monkeypatch.undo()
    assert device.read_bytes() == b"the device" and os.listdir(tmp_path) == ["full"]


def test_a_loop_of_links_is_named_as_given(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(OSError) as error:
        atomic_write(tmp_path / "a", write_bytes(b"new"))
    assert error.value.filename == str(tmp_path / "a")
    assert (tmp_path / "a").is_symlink() and (tmp_path / "b").is_symlink()


def test_a_probe_leaves_the_directory_as_it_found_it(tmp_path):
    (tmp_path / "kept.txt").write_text("x")
    atomic.probe_directory(tmp_path / "page.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.txt"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc, where no file can be made")
def test_a_probe_where_no_file_can_be_made_names_the_path_given():
    with pytest.raises(OSError) as caught:
        atomic.probe_directory("/proc/figure.png")
    assert caught.value.filename == "/proc/figure.png"
