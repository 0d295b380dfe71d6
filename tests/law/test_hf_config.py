"""Reading Hugging Face config.json files of the supported families."""

import json

import pytest

from perflaw.law.errors import InputError
from perflaw.law.hf_config import SUPPORTED_MODEL_TYPES, from_hf_config, load_hf_config
from tests.conftest import HF_CONFIGS


def test_every_supported_family_has_a_fixture():
    seen = set()
    for path in HF_CONFIGS.glob("*.json"):
        data = json.loads(path.read_text())
        seen.add(data["model_type"])
        if isinstance(data.get("text_config"), dict):
            seen.add(data["text_config"]["model_type"])
    assert set(SUPPORTED_MODEL_TYPES) <= seen


@pytest.mark.parametrize("path", sorted(HF_CONFIGS.glob("*.json")), ids=lambda p: p.stem)
def test_every_fixture_loads(path):
    arch = load_hf_config(path)
    p = arch.params()
    assert p.total > 0 and p.active <= p.total
    assert arch.name == path.parent.name or arch.name


def test_folder_path_reads_config_json(tmp_path, hf_config):
    (tmp_path / "config.json").write_text(hf_config("llama-3-8b").read_text())
    assert load_hf_config(tmp_path).params().total == 8_030_261_248


def test_field_mapping_llama_gqa(hf_config):
    a = load_hf_config(hf_config("llama-3-8b"))
    assert (a.layers, a.hidden, a.ffn, a.heads, a.kv_heads, a.head_dim, a.vocab) == \
        (32, 4096, 14336, 32, 8, 128, 128256)
    assert not a.tied_embeddings and not a.is_moe


def test_field_mapping_deepseek_v3(hf_config):
    a = load_hf_config(hf_config("deepseek-v3"))
    assert a.attention == "mla" and a.is_moe
    assert (a.experts, a.active_experts, a.shared_experts, a.expert_ffn, a.dense_layers) == (256, 8, 1, 2048, 3)
    assert a.router_bias  # noaux_tc routing carries a per-expert bias
    assert a.active_ffn == 9 * 2048


def test_qwen2_moe_shared_expert_width_becomes_a_count(hf_config):
    a = load_hf_config(hf_config("qwen2-57b-a14b"))
    assert a.shared_experts == 8 and a.expert_ffn == 2560 and a.shared_expert_gate


def test_gemma3_multimodal_wrapper_uses_text_config(hf_config):
    a = load_hf_config(hf_config("gemma-3-4b"))
    assert a.layers == 34 and a.tied_embeddings and a.norms_per_layer == 4 and a.qk_norm == "head"


def test_interleaved_moe_is_refused():
    cfg = dict(model_type="qwen2_moe", num_hidden_layers=4, hidden_size=64, num_attention_heads=4,
               vocab_size=10, moe_intermediate_size=8, num_experts=4, num_experts_per_tok=2,
               decoder_sparse_step=2)
    with pytest.raises(InputError, match="interleaved"):
        from_hf_config(cfg)


def test_unknown_family_lists_the_supported_ones():
    with pytest.raises(InputError) as err:
        from_hf_config({"model_type": "rwkv"})
    assert "rwkv" in str(err.value) and "llama" in str(err.value)


def test_missing_key_names_key_and_family():
    with pytest.raises(InputError) as err:
        from_hf_config({"model_type": "llama", "num_hidden_layers": 2}, origin="x/config.json")
    assert "x/config.json" in str(err.value) and "needs key" in str(err.value) and "llama" in str(err.value)


def test_bad_value_inside_config_names_the_file():
    cfg = dict(model_type="llama", num_hidden_layers=2, hidden_size=100, intermediate_size=8,
               num_attention_heads=3, vocab_size=10)
    with pytest.raises(InputError) as err:
        from_hf_config(cfg, origin="m/config.json")
    assert str(err.value).startswith("m/config.json (llama) hidden")
