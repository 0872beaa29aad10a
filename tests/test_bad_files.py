"""Hostile and broken inputs: one error line, exit 1, no traceback, no huge allocation.

The committed files under tests/fixtures/bad/ are produced by
``make_bad_files.py``; a test regenerates them and checks they match.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lmscope.core.errors import ConfigError, FileFormatError, LmscopeError, SourceError
from lmscope.core.report import build_report
from lmscope.core.results import Settings
from lmscope.core.sources.resolve import resolve

BAD = Path(__file__).parent / "fixtures" / "bad"
sys.path.insert(0, str(BAD))
import make_bad_files  # noqa: E402

sys.path.pop(0)


def _bad_paths() -> list[Path]:
    names = list(make_bad_files.safetensors_files()) + [f"{n}.gguf" for n in make_bad_files.gguf_files()] + [
        f"{n}.onnx" for n in make_bad_files.onnx_files()
    ]
    return [BAD / n for n in names]


def test_committed_bad_files_match_the_generator(tmp_path):
    make_bad_files.write_all(tmp_path)
    for path in _bad_paths():
        fresh = tmp_path / path.name
        if path.is_dir():
            assert (fresh / "model.safetensors").read_bytes() == (path / "model.safetensors").read_bytes(), path.name
        else:
            assert fresh.read_bytes() == path.read_bytes(), path.name


@pytest.mark.parametrize("path", _bad_paths(), ids=lambda p: p.name)
def test_bad_file_is_one_line_file_format_error(path):
    with pytest.raises(FileFormatError) as info:
        resolve(str(path))
    message = str(info.value)
    assert "\n" not in message and len(message) < 300
    # the message names the file that is bad: the folder's model.safetensors, or the file itself
    assert (f"{path.name}/model.safetensors" if path.is_dir() else path.name) in message, message


def _cli(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), LMSCOPE_NO_EXACT="1")
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run(
        [sys.executable, "-m", "lmscope", *args], capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path
    )


def _assert_one_line_error(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lmscope: error:"), lines[0]
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "name",
    ["safetensors-huge-header", "safetensors-lying-offsets", "gguf-huge-tensor-count.gguf", "gguf-huge-string.gguf", "onnx-truncated.onnx"],
)
def test_cli_bad_file_exit_1(name, tmp_path):
    _assert_one_line_error(_cli("report", str(BAD / name), "--format", "json", tmp_path=tmp_path))


def test_cli_directory_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    _assert_one_line_error(_cli("report", str(tmp_path / "empty"), tmp_path=tmp_path))


def test_cli_missing_path(tmp_path):
    _assert_one_line_error(_cli("report", str(tmp_path / "missing" / "config.json"), tmp_path=tmp_path))


def test_unreadable_config(tmp_path, monkeypatch):
    """A config.json the user may not read: one SourceError naming the cause.

    chmod 0 alone proves nothing as root (root reads everything), so the read
    itself is made to fail the way the OS fails it, for every user.
    """
    import pathlib

    folder = tmp_path / "locked"
    folder.mkdir()
    locked = folder / "config.json"
    locked.write_text(json.dumps(make_bad_files.TINY_CONFIG))
    locked.chmod(0)

    def denied(original):
        def read(self, *args, **kwargs):
            if self == locked:
                raise PermissionError(13, "Permission denied", str(self))
            return original(self, *args, **kwargs)

        return read

    for method in ("read_text", "read_bytes", "open"):
        monkeypatch.setattr(pathlib.Path, method, denied(getattr(pathlib.Path, method)))
    with pytest.raises(SourceError, match="Permission denied"):
        resolve(str(folder))


def test_nan_in_config(tmp_path):
    folder = tmp_path / "nan"
    folder.mkdir()
    text = json.dumps(make_bad_files.TINY_CONFIG).replace('"hidden_size": 64', '"hidden_size": NaN')
    (folder / "config.json").write_text(text)
    # transformers' loader reads NaN, so the file opens; the parser refuses it where an estimate uses it
    source = resolve(str(folder))
    with pytest.raises(ConfigError, match="hidden_size"):
        build_report(source, Settings(), exact=False)
    proc = _cli("report", str(folder), tmp_path=tmp_path)
    _assert_one_line_error(proc)
    assert "hidden_size" in proc.stderr


@pytest.mark.parametrize("text", ["{}", "{\"a\": Infinity}", "{\"bos_token_id\": 1}"])
def test_config_describing_no_model_is_an_error(tmp_path, text):
    folder = tmp_path / "nothing"
    folder.mkdir()
    (folder / "config.json").write_text(text)
    with pytest.raises(ConfigError, match="describes no model"):
        build_report(resolve(str(folder)), Settings())
    _assert_one_line_error(_cli("report", str(folder), tmp_path=tmp_path))


@pytest.mark.parametrize("text", ["{", "[1, 2]", "\"just a string\""])
def test_malformed_config_json(tmp_path, text):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text(text)
    with pytest.raises(ConfigError):
        resolve(str(folder))


def test_oversized_config_rejected_before_reading(tmp_path, monkeypatch):
    import lmscope.core.sources.local as local

    folder = tmp_path / "big"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(make_bad_files.TINY_CONFIG))
    monkeypatch.setattr(local, "MAX_CONFIG_BYTES", 10)
    with pytest.raises(ConfigError, match="bytes"):
        local.read_json(folder / "config.json", max_bytes=local.MAX_CONFIG_BYTES)


def test_duplicate_tensor_across_shards(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    folder = tmp_path / "dup"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(make_bad_files.TINY_CONFIG))
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "a.safetensors"))
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "b.safetensors"))
    with pytest.raises(FileFormatError, match="more than one shard"):
        resolve(str(folder))


def test_truncated_real_gguf(tmp_path):
    """A real GGUF cut anywhere is an error line, never a crash."""
    import gguf
    import numpy as np

    path = tmp_path / "real.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_token_list([b"a", b"b", b"c"])
    writer.add_tensor("token_embd.weight", np.zeros((3, 32), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = path.read_bytes()
    for cut in (30, 60, len(data) // 2, len(data) - 1):
        broken = tmp_path / f"cut{cut}.gguf"
        broken.write_bytes(data[:cut])
        with pytest.raises(LmscopeError):
            resolve(str(broken))


needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="this OS has no named pipes (os.mkfifo)")


@needs_fifo
@pytest.mark.parametrize("name", ["model.gguf", "config.json", "model.onnx"])
def test_named_pipe_is_refused_not_read(tmp_path, name):
    """Opening a FIFO blocks until a writer comes: a model path that is one must be an error at once."""
    fifo = tmp_path / name
    os.mkfifo(fifo)
    proc = _cli("report", str(fifo), tmp_path=tmp_path)  # first in a subprocess: a regression times out, not hangs
    _assert_one_line_error(proc)
    assert "not a regular file" in proc.stderr
    with pytest.raises(SourceError, match="not a regular file"):
        resolve(str(fifo))


@needs_fifo
def test_weights_skips_named_pipe_in_folder(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    os.mkfifo(folder / "model.safetensors")
    _assert_one_line_error(_cli("weights", str(folder), tmp_path=tmp_path))
    _assert_one_line_error(_cli("weights", str(folder / "model.safetensors"), tmp_path=tmp_path))


def test_safetensors_file_without_config_says_so(tmp_path):
    """A bare .safetensors file names itself and points at `lmscope weights`, not at its folder's other files."""
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, dtype=np.float32)}, str(tmp_path / "lonely.safetensors"))
    (tmp_path / "other.gguf").write_bytes(b"x")
    (tmp_path / "another.gguf").write_bytes(b"x")
    proc = _cli("report", "lonely.safetensors", tmp_path=tmp_path)
    _assert_one_line_error(proc)
    assert "lonely.safetensors" in proc.stderr and "lmscope weights" in proc.stderr
    assert "several model files" not in proc.stderr
    # with a config.json beside it, the folder is the model
    (tmp_path / "config.json").write_text(json.dumps(make_bad_files.TINY_CONFIG))
    assert resolve(str(tmp_path / "lonely.safetensors")).kind == "local"
