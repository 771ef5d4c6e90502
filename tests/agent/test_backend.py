"""TensorFlow's start-up noise is dropped from stderr; everything else gets through."""

import os
import sys

from cartpole.agent.backend import is_startup_noise, quiet_import

NOISE = [
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796225430.359190    2705 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results.",
    "I0000 00:00:1796225424.744299    2696 cpu_feature_guard.cc:227] This TensorFlow binary "
    "is optimized to use available CPU instructions in performance-critical operations.",
    "To enable the following instructions: AVX2 AVX512F FMA, in other operations, rebuild "
    "TensorFlow with the appropriate compiler flags.",
    "E0000 00:00:1732 12 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to "
    "register factory for plugin cuDNN when one has already been registered",
]
KEPT = [
    "Traceback (most recent call last):",
    "F0000 00:00:1796225430.359190    2705 port.cc:99] a fatal C++ error",
    "E0000 00:00:1796225430.359190    2705 op.cc:12] an error that is not start-up noise",
    "2026-12-02 15:32:25,097 WARNING cartpole.metrics: engine visdom is unreachable",
    "oneDNN is mentioned here, but not as TensorFlow's log line",
]


def test_only_tensorflow_start_up_lines_count_as_noise():
    assert all(is_startup_noise(line) for line in NOISE)
    assert not any(is_startup_noise(line) for line in KEPT)


def test_import_drops_the_noise_and_keeps_other_output_in_order(tmp_path, monkeypatch,
                                                                capfd):
    lines = [NOISE[0], KEPT[0], NOISE[1], KEPT[1], NOISE[3], KEPT[2]]
    (tmp_path / "noisy_module.py").write_text(
        "import os, sys\n"
        f"for line in {lines!r}:\n"
        "    os.write(2, (line + '\\n').encode())\n"  # C-level, as TensorFlow writes
        "print('python-level', file=sys.__stderr__)\n"  # the process's own stderr
        "VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    module = quiet_import("noisy_module")
    assert module.VALUE == 42
    err = capfd.readouterr().err
    assert err.splitlines() == [KEPT[0], KEPT[1], KEPT[2], "python-level"]
    sys.modules.pop("noisy_module", None)


def test_a_failing_import_restores_stderr(tmp_path, monkeypatch, capfd):
    (tmp_path / "broken_module.py").write_text(
        "import os\nos.write(2, b'why it broke\\n')\nraise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        quiet_import("broken_module")
    except RuntimeError:
        pass
    else:
        raise AssertionError("the import error must propagate")
    os.write(2, b"after\n")
    assert capfd.readouterr().err.splitlines() == ["why it broke", "after"]
