"""Hub metadata (`model_metadata`) against the mock Hub; sizes checked against the bytes it serves."""

from __future__ import annotations

from mockhub import GATED, QWEN, TINY_LLAMA, MockRepo

from lmscope.core.hub.info import license_of, model_metadata, weight_bytes_by_format, weight_format


def test_metadata_fields(mock_hub):
    repo = mock_hub.repos[TINY_LLAMA]
    meta = model_metadata(TINY_LLAMA)
    assert meta.repo_id == TINY_LLAMA and meta.author == "lmscope-test" and meta.sha == repo.sha
    assert (meta.downloads, meta.likes, meta.license) == (1234, 56, "apache-2.0")
    assert meta.gated is False and meta.private is False and meta.pipeline_tag == "text-generation"
    assert meta.last_modified.startswith("2025-06-01") and meta.library_name == "transformers"
    assert dict(meta.files) == {name: len(data) for name, data in repo.files.items()}
    served = sum(len(d) for n, d in repo.files.items() if n.endswith(".safetensors"))
    assert meta.weight_bytes_by_format == {"safetensors": served}
    assert meta.safetensors_total == sum(meta.safetensors_params_by_dtype.values()) > 0
    req = mock_hub.requests_for(f"^/api/models/{TINY_LLAMA}$")[-1]
    assert req.query.get("blobs") == ["true"]  # file sizes requested


def test_gated_repo_metadata_is_public(mock_hub):
    meta = model_metadata(GATED)
    assert meta.gated == "manual" and meta.license == "llama3.2"
    assert meta.safetensors_params_by_dtype == {"BF16": 1_235_814_400}
    assert meta.weight_bytes_by_format == {"safetensors": 2_471_645_608}


def test_license_from_card_data(mock_hub):
    assert model_metadata(QWEN).license == "apache-2.0"


def test_revision_is_requested(mock_hub):
    sha = mock_hub.repos[TINY_LLAMA].sha
    assert model_metadata(TINY_LLAMA, revision=sha).sha == sha
    assert mock_hub.requests_for(f"/api/models/{TINY_LLAMA}/revision/{sha}$")


def test_revision_not_found(mock_hub):
    import pytest

    from lmscope.core.hub.client import HubNotFoundError

    with pytest.raises(HubNotFoundError) as err:
        model_metadata(TINY_LLAMA, revision="no-such-branch")
    assert "revision no-such-branch" in str(err.value)


def test_weight_formats_by_file_name(mock_hub):
    files = {
        "model-00001-of-00002.safetensors": 10,
        "model.gguf": 20,
        "sub/model-Q4_K_M.gguf": 5,
        "pytorch_model.bin": 30,
        "training_args.bin": 1,
        "onnx/model.onnx": 40,
        "onnx/model.onnx_data": 50,
        "consolidated.pth": 60,
        "flax_model.msgpack": 70,
        "tf_model.h5": 80,
        "README.md": 3,
        "tokenizer.json": 2,
    }
    mock_hub.add_repo(MockRepo("someone/every-format", files={n: b"\0" * s for n, s in files.items()}))
    meta = model_metadata("someone/every-format")
    assert meta.weight_bytes_by_format == {
        "safetensors": 10,
        "gguf": 25,
        "bin": 30,
        "onnx": 90,
        "pt": 60,
        "flax": 70,
        "h5": 80,
    }
    assert weight_format("optimizer.pt") is None and weight_format("README.md") is None
    assert weight_bytes_by_format((("a.safetensors", None), ("b.safetensors", 5))) == {"safetensors": 5}


def test_license_of():
    assert license_of(["license:mit", "x"]) == "mit"
    assert license_of([], {"license": ["other", "x"]}) == "other"
    assert license_of(None, None) is None
