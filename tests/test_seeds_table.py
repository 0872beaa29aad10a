"""docs/seeds.md stays true: every row's command runs and gives the output the row names.

The table is parsed, not copied here, so a row added to the document is a
row tested. Commands run in-process through ``lmscope.main.main`` (the same
router the ``lmscope`` script calls), offline, on catalog and fixture models.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "seeds.md"
FIXTURES = ROOT / "tests" / "fixtures" / "seeds"


def _rows() -> list[dict[str, str]]:
    """Rows of the first table in docs/seeds.md (the one with a Command column)."""
    rows: list[dict[str, str]] = []
    header: list[str] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|"):
            if header is not None and rows:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if header is None:
            if "Command" in cells:
                header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(dict(zip(header, cells)))
    return rows


ROWS = _rows()


def _code(cell: str) -> str:
    match = re.fullmatch(r"`(.*)`", cell.strip())
    assert match, f"not a code cell: {cell!r}"
    return match.group(1).replace("\\|", "|")


def test_table_covers_every_seed_and_is_numbered():
    assert len(ROWS) >= 50
    assert [int(r["#"]) for r in ROWS] == list(range(1, len(ROWS) + 1))
    assert {r["Seed"] for r in ROWS} >= {"000", "002", "003", "004"}
    for row in ROWS:
        assert _code(row["Command"]).startswith("lmscope"), row
        assert _code(row["Check"]), row


def _write_onnx(path: Path) -> None:
    """Two named layers (MatMul-Relu-MatMul), MoE-style routing and one custom-domain node."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes, prev = [], [], "x"
    for i in range(2):
        up = numpy_helper.from_array(np.ones((8, 16), np.float16), f"model.layers.{i}.mlp.up.weight")
        down = numpy_helper.from_array(np.ones((16, 8), np.float16), f"model.layers.{i}.mlp.down.weight")
        inits += [up, down]
        nodes += [
            helper.make_node("Cast", [up.name], [f"/model/layers.{i}/up32"], name=f"/model/layers.{i}/CastUp", to=TensorProto.FLOAT),
            helper.make_node("Cast", [down.name], [f"/model/layers.{i}/down32"], name=f"/model/layers.{i}/CastDown", to=TensorProto.FLOAT),
            helper.make_node("MatMul", [prev, f"/model/layers.{i}/up32"], [f"/model/layers.{i}/h"], name=f"/model/layers.{i}/mlp/up/MatMul"),
            helper.make_node("Relu", [f"/model/layers.{i}/h"], [f"/model/layers.{i}/a"], name=f"/model/layers.{i}/mlp/act/Relu"),
            helper.make_node("MatMul", [f"/model/layers.{i}/a", f"/model/layers.{i}/down32"], [f"/model/layers.{i}/out"], name=f"/model/layers.{i}/mlp/down/MatMul"),
        ]
        prev = f"/model/layers.{i}/out"
    inits.append(numpy_helper.from_array(np.array([2], np.int64), "k"))
    nodes += [
        helper.make_node("TopK", [prev, "k"], ["vals", "idx"], name="/model/router/TopK", axis=-1),
        helper.make_node("GatherND", [prev, "idx"], ["picked"], name="/model/router/GatherND"),
        helper.make_node("Fused", ["vals"], ["out"], name="/model/custom/Fused", domain="com.example"),
    ]
    graph = helper.make_graph(
        nodes,
        "seeds",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "seq", 8])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    onnx.save_model(model, str(path))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("seeds")
    _write_onnx(tmp / "seeds.onnx")
    (tmp / "models.txt").write_text("# seed 000's loop, as a file\nopenai-community/gpt2\n\ntiiuae/falcon-7b\n")
    (tmp / "ggml-model-q4_0.bin").write_bytes(b"tjgg" + b"\0" * 60)  # llama.cpp GGJT magic
    return {"tmp": str(tmp), "onnx": str(tmp / "seeds.onnx"), "fixtures": str(FIXTURES)}


def _run(argv: list[str]) -> tuple[int, str, str]:
    from lmscope.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:  # argparse's --version / usage
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("row", ROWS, ids=[f"row{r['#']}" for r in ROWS])
def test_row(row, workspace, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    command = _code(row["Command"]).format(**workspace)
    argv = shlex.split(command)[1:]
    code, out, err = _run(argv)
    for check in (c.strip() for c in _code(row["Check"]).split(" ; ")):
        kind, _, value = check.partition(":")
        value = value.format(**workspace)
        if kind == "out":
            assert code == 0, f"row {row['#']}: exit {code}: {err.strip()}"
            assert value in out + err, f"row {row['#']}: {value!r} not in the output of {command}"
        elif kind == "file":
            assert code == 0, f"row {row['#']}: exit {code}: {err.strip()}"
            assert Path(value).is_file() and Path(value).stat().st_size > 0, f"row {row['#']}: {value} not written"
        elif kind == "err":
            assert code == 1, f"row {row['#']}: exit {code}, expected 1"
            assert value in err and "Traceback" not in err, f"row {row['#']}: {value!r} not in {err!r}"
        else:  # pragma: no cover - a malformed row
            pytest.fail(f"row {row['#']}: unknown check {check!r}")
    assert "hf_seedstabledummy" not in out + err  # a token is never printed
