import pytest

from cartpole.errors import OutputError
from cartpole.fileio import check_writable_dir, check_writable_file, write_json, write_with


def test_atomic_write_leaves_no_temp_files(tmp_path):
    write_json(tmp_path / "a" / "x.json", {"a": 1})
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["x.json"]


def test_failed_writer_leaves_nothing(tmp_path):
    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("crash")

    with pytest.raises(RuntimeError):
        write_with(tmp_path / "model.h5", boom)
    assert list(tmp_path.iterdir()) == []


def test_checks_create_nothing(tmp_path):
    check_writable_dir(tmp_path / "new" / "deeper", "runs folder")
    check_writable_file(tmp_path / "other" / "m.h5", "model file")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_paths(tmp_path):
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(OutputError, match="not a directory"):
        check_writable_file(afile / "model.h5", "model file")
    with pytest.raises(OutputError, match="is a directory"):
        check_writable_file(tmp_path, "model file")
    with pytest.raises(OutputError, match="cannot be written"):
        check_writable_dir("/proc/cartpole-runs", "runs folder")


def test_files_get_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "x.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "x.json").stat().st_mode & 0o777 == 0o644


def test_pid_alive():
    import os

    from cartpole.fileio import pid_alive

    assert pid_alive(os.getpid())
    assert not pid_alive(None) and not pid_alive("123")


@pytest.mark.slow
def test_pid_alive_says_no_for_an_ended_process_reaped_or_not():
    import subprocess
    import sys

    from cartpole.fileio import pid_alive
    from tests.waiting import wait_until

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    wait_until(lambda: not pid_alive(proc.pid), "the ended process to show as gone")  # zombie
    proc.wait()
    assert not pid_alive(proc.pid)
