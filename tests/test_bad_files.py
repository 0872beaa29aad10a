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


# ---------------------------------------------------------------------------------------------
# The promise, case by case: every hostile input is one line on stderr, exit 1 (2 for usage),
# no traceback, no token printed — and memory bombs stay under 1 GB.
# ---------------------------------------------------------------------------------------------

TOKEN = "hf_" + "Secret9" * 5  # never printed in any form
SECRET_PARTS = (TOKEN, "Secret9Secret9")
MAX_LINE = 700


def _main(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the real CLI entry point in-process (fast: no interpreter start) and capture its output."""
    from lmscope.main import main

    try:
        code = main(argv)
    except SystemExit as exc:  # argparse exits for usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def _assert_promise(code: int, out: str, err: str, expected: int) -> None:
    assert code == expected, err[-500:]
    assert "Traceback" not in err and "Traceback" not in out
    for part in SECRET_PARTS:
        assert part not in err and part not in out
    if expected == 0:
        return
    lines = [line for line in err.splitlines() if line.strip()]
    if expected == 2:  # argparse: a usage block, then the one error line
        lines = [line for line in lines if ": error:" in line]
    assert len(lines) == 1, err[-2000:]
    assert ": error:" in lines[0] and len(lines[0]) <= MAX_LINE, lines[0][:200]
    assert "\x1b" not in err and "\x07" not in err  # escape sequences are shown escaped, never sent to the terminal


@pytest.fixture
def offline_env(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -------------------------------------------------------------------- files: report on each case

def _file_cases() -> list[str]:
    return [p.name for p in _bad_paths()]


# side-file folders: name -> (exit code of `report`, exit code of `weights`, or None when not relevant)
FOLDER_EXPECT: dict[str, tuple[int, int | None]] = {
    "folder-config-quant-bits-zero": (1, None),
    "folder-config-quant-bits-negative": (1, None),
    "folder-config-quant-group-zero": (1, None),
    "folder-config-quant-block-negative": (1, None),
    "folder-config-quant-num-bits-huge": (1, None),
    "folder-config-rope-theta-huge-int": (1, None),
    "folder-config-rope-factor-huge-int": (1, None),
    "folder-config-deep": (1, None),
    "folder-config-utf16": (1, None),
    "folder-config-control-chars": (1, None),
    "folder-index-not-json": (1, 1),
    "folder-index-deep": (1, 1),
    "folder-index-weight-map-list": (0, 1),  # a report does not need the index: a note
    "folder-index-unsafe-shard": (0, 1),
    "folder-index-escape-shard": (0, 1),
    "folder-tokenizer-config-deep": (1, None),
    "folder-tokenizer-config-not-object": (1, None),
    "folder-generation-config-not-json": (1, None),
    "folder-quantize-config-deep": (1, None),
    "folder-tokenizer-json-deep": (0, None),  # optional: the report goes on without it, with a note
    "folder-tokenizer-json-not-json": (0, None),
    "folder-chat-template-json-deep": (0, None),
}


def test_folder_expectations_cover_the_generator():
    assert sorted(FOLDER_EXPECT) == sorted(make_bad_files.folder_files())


def test_committed_folder_cases_match_the_generator(tmp_path):
    make_bad_files.write_all(tmp_path)
    for name in make_bad_files.folder_files():
        for fresh in (tmp_path / name).iterdir():
            assert (BAD / name / fresh.name).read_bytes() == fresh.read_bytes(), f"{name}/{fresh.name}"


@pytest.mark.parametrize("name", _file_cases(), ids=str)
def test_cli_report_keeps_the_promise_on_every_bad_file(name, offline_env, capsys):
    _assert_promise(*_main(["report", str(BAD / name), "--format", "json"], capsys), expected=1)


@pytest.mark.parametrize("name", sorted(FOLDER_EXPECT), ids=str)
def test_cli_keeps_the_promise_on_every_bad_side_file(name, offline_env, capsys):
    report_code, weights_code = FOLDER_EXPECT[name]
    code, out, err = _main(["report", str(BAD / name), "--format", "json"], capsys)
    _assert_promise(code, out, err, expected=report_code)
    if report_code == 0:
        notes = json.loads(out)["notes"]
        assert notes, "a skipped side file is said, not silently ignored"
    if weights_code is not None:
        _assert_promise(*_main(["weights", str(BAD / name), "--no-spectra", "--quiet"], capsys), expected=weights_code)


@pytest.mark.parametrize("name", sorted(make_bad_files.folder_files()), ids=str)
def test_bad_side_file_is_a_library_error_or_a_note(name):
    """At the library level only LmscopeError escapes (or the source opens with a note)."""
    try:
        resolve(str(BAD / name))
    except LmscopeError as err:
        assert "\n" not in str(err) and len(str(err)) < MAX_LINE


# -------------------------------------------------------------------- command-line arguments

LONG = "x" * 5000

# name -> (argv, exit code); `{tiny}` is replaced by a folder holding a valid config.json
ARGUMENT_CASES: dict[str, tuple[list[str], int]] = {
    "revision-5000-chars": (["report", "org/name", "--revision", LONG], 1),
    "at-revision-5000-chars": (["report", "org/name@" + LONG], 1),
    "spec-100000-chars": (["report", "m" * 100_000], 1),
    "path-name-too-long": (["report", "./" + "a" * 300], 1),
    "path-nul-byte": (["report", "./a\0b.json"], 1),
    "spec-escape-sequence": (["report", "\x1b[2J\x1b]0;owned\x07"], 1),
    "compare-long-specs": (["compare", "m" * 5000, "n" * 5000], 1),
    "weights-name-too-long": (["weights", "a" * 300], 1),
    "weights-nul-byte": (["weights", "a\0b"], 1),
    "weights-revision-5000-chars": (["weights", "org/name", "--revision", LONG], 1),
    "weights-at-revision-5000-chars": (["weights", "org/name@" + LONG], 1),
    "output-name-too-long": (["report", "{tiny}", "--output", "o" * 300], 1),
    "seq-len-5000-digits": (["report", "{tiny}", "--seq-len", "9" * 5000], 2),
    "dtype-5000-chars": (["report", "{tiny}", "--dtype", LONG], 2),
    "kind-5000-chars": (["weights", "{tiny}", "--kind", LONG], 2),
    "search-sort-5000-chars": (["search", "llama", "--sort", LONG], 2),
    "search-limit-5000-digits": (["search", "llama", "--limit", "9" * 5000], 2),
    "token-newline": (["report", "{tiny}", "--token", TOKEN + "\nX-Injected: 1"], 1),
    "token-carriage-return": (["report", "{tiny}", "--token", TOKEN[:10] + "\r" + TOKEN[10:]], 1),
    "token-inner-space": (["report", "{tiny}", "--token", TOKEN[:10] + " " + TOKEN[10:]], 1),
    "token-non-ascii": (["report", "{tiny}", "--token", TOKEN + "\u00e9"], 1),
    "token-escape-sequence": (["report", "{tiny}", "--token", TOKEN + "\x1b[2J"], 1),
    "weights-token-newline": (["weights", "{tiny}", "--token", TOKEN + "\n"  + "x"], 1),
    "search-token-tab": (["search", "llama", "--offline", "--token", TOKEN[:5] + "\t" + TOKEN[5:]], 1),
}


def _tiny(tmp_path: Path) -> Path:
    folder = tmp_path / "tiny"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(make_bad_files.TINY_CONFIG))
    return folder


@pytest.mark.parametrize("name", sorted(ARGUMENT_CASES), ids=str)
def test_cli_keeps_the_promise_on_hostile_arguments(name, offline_env, capsys):
    argv, expected = ARGUMENT_CASES[name]
    tiny = str(_tiny(offline_env))
    code, out, err = _main([a.replace("{tiny}", tiny) for a in argv], capsys)
    _assert_promise(code, out, err, expected)
    if name.startswith(("token", "weights-token", "search-token")):
        assert "token" in err and "not sent" in err


@pytest.mark.parametrize("variable", ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"])
def test_token_with_control_characters_from_the_environment_is_refused_before_any_request(variable, hub_env, monkeypatch, capsys):
    """Online (the endpoint is a closed port): the token is refused before a request could quote it."""
    monkeypatch.setenv(variable, TOKEN + "\r\nX-Injected: 1")
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    code, out, err = _main(["report", "some-org/some-model"], capsys)
    _assert_promise(code, out, err, expected=1)
    assert "HF_TOKEN" in err and "not sent" in err


# -------------------------------------------------------------------- memory bombs (subprocess, peak RSS)

PEAK_LIMIT_KIB = 1024 * 1024  # 1 GiB
_PEAK_WRAPPER = r"""
import atexit, os, runpy, sys

def _peak():  # VmHWM: the peak RSS of this program since its exec (not its parent's)
    with open("/proc/self/status") as status, open(os.environ["LMSCOPE_PEAK_FILE"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))

atexit.register(_peak)
sys.argv = ["lmscope", *sys.argv[1:]]
runpy.run_module("lmscope", run_name="__main__", alter_sys=True)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak RSS is read from /proc (Linux)")
@pytest.mark.parametrize("name", sorted(make_bad_files.bomb_files()), ids=str)
def test_memory_bomb_within_byte_limits_stays_under_1_gib(name, tmp_path):
    command, expected, files = make_bad_files.bomb_files()[name]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(make_bad_files.TINY_CONFIG))
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    del files
    singles = [folder / n for n in ("model.gguf", "model.onnx") if (folder / n).exists()]
    target = singles[0] if singles else folder
    extra = ["--format", "json"] if command == "report" else ["--no-spectra", "--quiet"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), LMSCOPE_NO_EXACT="1",
               LMSCOPE_PEAK_FILE=str(tmp_path / "peak"))
    proc = subprocess.run([sys.executable, "-c", _PEAK_WRAPPER, command, str(target), *extra],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    _assert_promise(proc.returncode, proc.stdout, proc.stderr, expected)
    peak_kib = int((tmp_path / "peak").read_text())
    assert peak_kib < PEAK_LIMIT_KIB, f"{name}: peak RSS {peak_kib // 1024} MiB"
    if expected == 0:
        assert any("tokenizer" in note for note in json.loads(proc.stdout)["notes"])
