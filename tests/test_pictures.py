"""Pictures: architecture diagrams, charts and report folders.

Every PNG/SVG produced for a dense, an MoE, a hybrid Mamba, a VLM and an
encoder-decoder fixture is opened: PNG signature and size from its IHDR, SVG
parsed with xml.etree, and the SVG's text must name every layer type the
model's config declares (read from the raw config here, not from our parser).
Per-layer parameter counts shown in the diagram are checked against the
meta-device oracle (the real transformers class). Renders are byte-identical
run to run, and a report folder's every image link resolves.
"""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lmscope.core import charts, diagram, plots
from lmscope.core.estimate import estimate
from lmscope.core.params import layer_parameters
from lmscope.core.parse import architecture_from_config
from lmscope.core.results import Settings

sys.path.insert(0, str(Path(__file__).parent))
import oracle

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
SVG_NS = "{http://www.w3.org/2000/svg}"

# One of each shape the issue names: dense, MoE, hybrid Mamba, VLM, encoder-decoder (+ linear attention, MLA, speech).
MODELS = {
    "dense": "meta-llama--Llama-3.1-8B",
    "moe": "Qwen--Qwen3-30B-A3B",
    "hybrid-mamba": "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16",
    "vlm": "google--gemma-3-4b-it",
    "encoder-decoder": "google-t5--t5-small",
    "linear-attention": "Qwen--Qwen3-Next-80B-A3B-Thinking",
    "mla": "deepseek-ai--DeepSeek-V3",
    "speech": "openai--whisper-tiny",
}


def _config(name: str) -> dict:
    return json.loads((CONFIGS / name / "config.json").read_text())


def _expected_words(config: dict) -> set[str]:
    """Words the diagram must show, from the raw config's own fields (an independent reading)."""
    text = config.get("text_config") or config
    words: set[str] = set()
    pattern = text.get("hybrid_override_pattern")
    if pattern:  # Nemotron-H: M = Mamba-2, * = attention, E = MoE, - = MLP
        words |= {w for ch, w in (("M", "Mamba-2"), ("*", "full attention"), ("E", "MoE"), ("-", "dense FFN")) if ch in pattern}
    layer_types = text.get("layer_types") or []
    if "sliding_attention" in layer_types:
        words |= {"sliding-window attention", f"window {text['sliding_window']:,}"}
    if "full_attention" in layer_types:
        words.add("full attention")
    if "linear_attention" in layer_types:
        words.add("Gated DeltaNet")
    if text.get("kv_lora_rank"):
        words |= {"MLA", f"KV latent {text['kv_lora_rank']}"}
    experts = text.get("num_experts") or text.get("n_routed_experts")
    if experts:
        words |= {"MoE", f"{experts} experts", f"top-{text.get('num_experts_per_tok')}"}
    if text.get("n_shared_experts"):
        words.add(f"{text['n_shared_experts']} shared")
    if text.get("first_k_dense_replace"):
        words.add("dense FFN")
    if "vision_config" in config:
        words |= {"Vision tower", f"{config['vision_config']['num_hidden_layers']} layers"}
    if config.get("is_encoder_decoder"):
        enc = config.get("num_layers") or config.get("encoder_layers")
        words |= {f"Encoder layers × {enc}", "cross-attention"}
    if not words:  # a plain dense decoder
        words |= {"full attention", "dense FFN"}
    layers = text.get("num_hidden_layers") or text.get("num_decoder_layers") or text.get("decoder_layers") or text.get("num_layers")
    words.add(f"× {layers}")
    return words


def _svg_text(svg: str) -> str:
    root = ET.fromstring(svg)
    assert root.tag == SVG_NS + "svg"
    return "\n".join("".join(el.itertext()) for el in root.iter(SVG_NS + "text"))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _diagram(name: str, style: str) -> diagram.Diagram:
    arch = architecture_from_config(_config(name))
    est = estimate(arch, Settings())
    return diagram.architecture_diagram(arch, model_id=name.replace("--", "/"), style=style, params=est.parameters, estimate=est)


@pytest.mark.parametrize("shape", sorted(MODELS))
@pytest.mark.parametrize("style", diagram.STYLES)
def test_diagram_svg_names_every_layer_type(shape: str, style: str) -> None:
    name = MODELS[shape]
    d = _diagram(name, style)
    text = _svg_text(diagram.to_svg(d))
    missing = [w for w in _expected_words(_config(name)) if w not in text]
    if style == "simple":  # the simple style lists kinds with their counts, not the repeat badges or every size
        missing = [w for w in missing if not w.startswith(("× ", "KV latent", "Encoder layers", "cross-attention", "window "))]
    assert not missing, f"{name} {style}: SVG text lacks {missing}"
    assert name.replace("--", "/") in text


@pytest.mark.parametrize("shape", ["dense", "hybrid-mamba", "vlm", "encoder-decoder"])
def test_diagram_png_opens_and_is_deterministic(shape: str) -> None:
    d = _diagram(MODELS[shape], "detailed")
    png = diagram.to_png(d)
    width, height = _png_size(png)
    assert abs(width - d.width * diagram.PNG_SCALE) <= 1 and abs(height - d.height * diagram.PNG_SCALE) <= 1
    assert width >= 900 and height >= 500
    assert diagram.to_png(_diagram(MODELS[shape], "detailed")) == png
    assert diagram.to_svg(_diagram(MODELS[shape], "detailed")) == diagram.to_svg(d)


def test_every_box_is_wide_enough_for_its_text() -> None:
    """No text runs past the right edge of the picture (estimated widths, generous)."""
    for name in MODELS.values():
        for style in diagram.STYLES:
            d = _diagram(name, style)
            for t in d.texts:
                right = t.x + (diagram.text_width(t.text, t.size) if t.anchor == "start" else diagram.text_width(t.text, t.size) / 2)
                assert right <= d.width, (name, style, t.text)


@pytest.mark.parametrize("name,layer_index", [
    ("meta-llama--Llama-3.1-8B", 0),
    ("google--gemma-3-4b-it", 0),
    ("google--gemma-3-4b-it", 5),
    ("Qwen--Qwen3-30B-A3B", 0),
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 0),
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 1),
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 5),
])
def test_per_layer_parameters_match_the_real_class(name: str, layer_index: int) -> None:
    """The "params per layer" of each diagram card equals the meta-device class's layer N."""
    counts = oracle.oracle_named_counts(name)
    if not counts:
        pytest.fail(f"transformers cannot build {name} on the meta device")
    pattern = re.compile(rf"(^|\.)(language_model\.)?layers\.{layer_index}\.")
    expected = sum(n for key, n in counts if pattern.search(key) and "vision" not in key)
    arch = architecture_from_config(_config(name))
    assert sum(layer_parameters(arch, arch.layers[layer_index]).values()) == expected


# --------------------------------------------------------------------------- charts


def test_memory_chart_stack_equals_the_memory_table() -> None:
    arch = architecture_from_config(_config(MODELS["hybrid-mamba"]))
    settings = Settings(seq_len=8192, batch=2)
    est = estimate(arch, settings)
    chart = charts.memory_vs_seq_len(arch, settings, est.parameters)
    at = chart.series[0].xs.index(8192.0)
    stacked = sum(s.ys[at] for s in chart.series)
    assert stacked * 2**30 == pytest.approx(est.memory.inference_total_bytes, rel=1e-12)  # GiB axis, as the tables
    assert chart.y_label.startswith("memory (GiB")
    names = {s.name for s in chart.series}
    assert {"weights", "KV cache", "activations", "state (SSM/linear)"} <= names
    # the H100 line sits at its planner profile's memory (80 GiB of HBM), the card the Plan screen means
    from lmscope.core.hardware import get_accelerator

    h100 = get_accelerator("h100").memory_bytes
    assert (h100 / 2**30, "H100 · 80 GiB") in chart.hlines


def test_memory_chart_follows_the_decimal_convention() -> None:
    from lmscope.core.units import set_byte_units

    arch = architecture_from_config(_config(MODELS["hybrid-mamba"]))
    settings = Settings(seq_len=8192, batch=2)
    est = estimate(arch, settings)
    set_byte_units("decimal")
    chart = charts.memory_vs_seq_len(arch, settings, est.parameters)
    at = chart.series[0].xs.index(8192.0)
    assert sum(s.ys[at] for s in chart.series) * 1e9 == pytest.approx(est.memory.inference_total_bytes, rel=1e-12)
    assert chart.y_label.startswith("memory (GB")
    # 80 GiB is 85.9 GB: the line moves with the axis, its label in the same unit
    assert (80 * 2**30 / 1e9, "H100 · 86 GB") in chart.hlines


def test_flops_chart_sums_to_the_totals() -> None:
    arch = architecture_from_config(_config(MODELS["moe"]))
    est = estimate(arch, Settings(seq_len=2048))
    chart = charts.flops_by_component(est)
    prefill, decode = chart.series
    p_div, _ = charts.scale_for(list(est.flops.by_component.values()), "flops")
    d_div, _ = charts.scale_for(list(est.flops.decode_by_component.values()), "flops")
    assert sum(prefill.ys) * p_div == pytest.approx(est.flops.prefill_total, rel=1e-12)
    assert sum(decode.ys) * d_div == pytest.approx(est.flops.decode_per_token, rel=1e-12)


@pytest.mark.parametrize("shape", ["dense", "vlm", "hybrid-mamba"])
def test_charts_render_to_png_and_searchable_svg(shape: str) -> None:
    arch = architecture_from_config(_config(MODELS[shape]))
    est = estimate(arch, Settings())
    for chart in charts.report_charts(arch, est):
        out = plots.render(chart)
        width, height = _png_size(out["png"])
        assert width >= 800 and height >= 280
        text = _svg_text(out["svg"].decode())
        assert chart.title in text  # real text, not glyph paths
        assert "<dc:date>" not in out["svg"].decode()
        assert plots.render(chart) == out


# --------------------------------------------------------------------------- report folders


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), LMSCOPE_NO_EXACT="1")
    return env


def _run(tmp_path: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", code, *args] if code else [sys.executable, "-m", "lmscope", *args]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(tmp_path), timeout=300)


def _check_links(folder: Path) -> list[str]:
    """Every Markdown image/link target exists; every picture opens. Returns the targets."""
    text = (folder / "report.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", text)
    assert targets
    for target in targets:
        assert not target.startswith(("/", "http")), target
        path = folder / target
        assert path.is_file(), target
        if target.endswith(".png"):
            _png_size(path.read_bytes())
        elif target.endswith(".svg"):
            _svg_text(path.read_text())
    return targets


@pytest.mark.parametrize("shape", ["vlm", "encoder-decoder"])
def test_report_folder_links_resolve(tmp_path: Path, shape: str) -> None:
    out = tmp_path / "folder"
    proc = _run(tmp_path, "report", str(CONFIGS / MODELS[shape] / "config.json"), "--output-dir", str(out), "--visualize", "simple", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    targets = _check_links(out)
    assert {"architecture_simple.png", "memory.png", "parameters.png", "flops.png"} <= set(targets)
    assert json.loads((out / "report.json").read_text())["model_id"]
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temp files


def test_output_dir_is_a_report_folder_for_one_model_and_for_each_model_of_a_batch(tmp_path: Path) -> None:
    """One meaning of --output-dir: a report folder. One MODEL: DIR itself (report.md, the charts,
    report.<format>; the diagram only with --visualize). A batch: DIR/org--name/ per model, the same folder."""
    one = tmp_path / "one"
    proc = _run(tmp_path, "report", str(CONFIGS / MODELS["dense"] / "config.json"), "--output-dir", str(one), "--format", "markdown")
    assert proc.returncode == 0, proc.stderr
    targets = _check_links(one)
    assert {"memory.png", "parameters.png", "flops.png"} <= set(targets)
    assert not any(t.startswith("architecture_") for t in targets)  # no --visualize: charts only
    assert sorted(p.name for p in one.iterdir() if not p.name.endswith((".png", ".svg"))) == ["report.md"]
    models = tmp_path / "models.txt"
    models.write_text(f"{CONFIGS / MODELS['dense'] / 'config.json'}\n{CONFIGS / MODELS['moe'] / 'config.json'}\n")
    batch = tmp_path / "batch"
    proc = _run(tmp_path, "report", "--models-file", str(models), "--output-dir", str(batch), "--format", "yaml", "--visualize", "simple")
    assert proc.returncode == 0, proc.stderr
    folders = sorted(batch.iterdir())
    assert len(folders) == 2 and all(f.is_dir() for f in folders)
    for folder in folders:
        targets = _check_links(folder)
        assert {"architecture_simple.png", "memory.png"} <= set(targets)
        assert (folder / "report.yaml").stat().st_size > 0
    proc = _run(tmp_path, "report", "--models-file", str(models), "--output-dir", str(tmp_path / "quick"), "--no-pictures")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for f in (tmp_path / "quick").iterdir() for p in f.iterdir()) == ["report.md", "report.md", "report.txt", "report.txt"]


def test_compare_folder_links_resolve(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    proc = _run(tmp_path, "compare", str(CONFIGS / MODELS["dense"] / "config.json"), str(CONFIGS / MODELS["moe"] / "config.json"), "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr
    targets = _check_links(out)
    assert "memory.png" in targets and sum(t.startswith("architecture_") and t.endswith(".png") for t in targets) == 2


def test_visualize_without_output_dir_is_a_usage_error(tmp_path: Path) -> None:
    proc = _run(tmp_path, "report", str(CONFIGS / MODELS["dense"] / "config.json"), "--visualize", "detailed")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "--output-dir" in proc.stderr


def test_without_matplotlib_the_folder_has_the_svg_diagram_and_says_how_to_get_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "nompl"
    code = "import sys; sys.modules['matplotlib'] = None; from lmscope.main import main; sys.exit(main(sys.argv[1:]))"
    proc = _run(tmp_path, "report", str(CONFIGS / MODELS["dense"] / "config.json"), "--output-dir", str(out), "--visualize", "detailed", code=code)
    assert proc.returncode == 0, proc.stderr
    assert 'pip install ".[plots]"' in proc.stderr and "Traceback" not in proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["architecture_detailed.svg", "report.md", "report.txt"]
    _check_links(out)


def test_weights_folder_names_cluster_tokens(tmp_path: Path) -> None:
    """Four far-apart blobs of embedding rows with named tokens: k = 4, each cluster's representatives from one blob."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(1)
    blobs, per, dim = 4, 30, 16
    centres = rng.standard_normal((blobs, dim)) * 20
    rows = np.concatenate([centres[b] + rng.standard_normal((per, dim)) for b in range(blobs)]).astype(np.float32)
    arrays = {
        "model.embed_tokens.weight": rows,
        "model.layers.0.self_attn.q_proj.weight": rng.standard_normal((32, 16)).astype(np.float32),
        "model.layers.1.self_attn.q_proj.weight": rng.standard_normal((32, 16)).astype(np.float32),
        "model.layers.0.mlp.up_proj.weight": rng.standard_normal((48, 16)).astype(np.float32),
    }
    model = tmp_path / "model"
    model.mkdir()
    save_file(arrays, model / "model.safetensors")
    vocab = {f"blob{i // per}_tok{i}": i for i in range(blobs * per)}
    (model / "tokenizer.json").write_text(json.dumps({"model": {"type": "BPE", "vocab": vocab}, "added_tokens": []}))
    out = tmp_path / "out"
    proc = _run(tmp_path, "weights", str(model), "--output-dir", str(out), "--device", "cpu", "--quiet")
    assert proc.returncode == 0, proc.stderr
    targets = _check_links(out)
    assert {"spectra.png", "cluster_sizes.png", "cluster_scores.png", "row_norms.png", "cluster_representatives.json", "weights.csv"} <= set(targets)
    doc = json.loads((out / "cluster_representatives.json").read_text())
    emb = doc["embeddings"][0]
    assert emb["best_k"] == blobs
    names = {token: i for token, i in vocab.items()}
    for cluster in emb["clusters"]:
        tokens = [r["token"] for r in cluster["representatives"]]
        assert tokens and all(t is not None for t in tokens)
        assert len({t.split("_")[0] for t in tokens}) == 1, tokens  # one blob per cluster
        assert all(names[r["token"]] == r["row"] for r in cluster["representatives"])
    assert "blob" in (out / "report.md").read_text()
