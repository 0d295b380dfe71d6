"""Training and serving memory pinned against the ZeRO and Korthikanti et al. papers, plus properties."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.law.hf_config import load_hf_config
from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.memory import (Layout, MemoryBreakdown, fits, fits_one_gpu, inference_memory, layer_activation_bytes,
                              model_state_bytes, stage_memory, training_memory)

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GB = 1e9

# GPT-3-style shapes of Korthikanti et al. 2022 (arXiv 2205.05198), Table 3: plain 4h MLP, multi-head
# attention, LayerNorm, sequence length 2048.
GPT3_175B = Architecture(96, 12288, 4 * 12288, heads=96, vocab=51200, ffn_kind="plain", norm="layernorm")
MTNLG_530B = Architecture(105, 20480, 4 * 20480, heads=128, vocab=51200, ffn_kind="plain", norm="layernorm")
GPT_1T = Architecture(128, 25600, 4 * 25600, heads=160, vocab=51200, ffn_kind="plain", norm="layernorm")
LLAMA3_8B = Architecture(32, 4096, 14336, heads=32, kv_heads=8, vocab=128256)
LLAMA3_70B = Architecture(80, 8192, 28672, heads=64, kv_heads=8, vocab=128256)


# ------------------------------------------------------------------ model states (ZeRO paper)
@pytest.mark.parametrize("zero, expected_gb", [(0, 120.0), (1, 31.4), (2, 16.6), (3, 1.9)])
def test_zero_paper_worked_example(zero, expected_gb):
    # Rajbhandari et al. 2020 (arXiv 1910.02054), Figure 1: Ψ = 7.5B, Nd = 64, K = 12 gives
    # 120 GB, 31.4 GB, 16.6 GB and 1.9 GB per device for baseline, P_os, P_os+g, P_os+g+p.
    mem = model_state_bytes(7.5e9, 64, zero)
    assert mem.total / GB == pytest.approx(expected_gb, abs=0.05)
    assert mem.activations == 0


def test_model_states_of_an_architecture_are_16_bytes_per_parameter():
    layout = Layout(seq_len=1024, recompute="full")
    mem = training_memory(LLAMA3_8B, layout)
    assert mem.model_states == 16 * LLAMA3_8B.params().total  # 2 + 2 + 12, no parallelism


def test_zero3_keeps_one_layer_gathered():
    # FSDP all-gathers one layer (unit) at a time: own shard + the rest of that unit.
    mem = model_state_bytes(1e9, 8, 3, unit_params=1e8)
    assert mem.weights == pytest.approx(2 * (1e9 / 8 + 1e8 * 7 / 8))
    assert mem.optimizer == pytest.approx(12 * 1e9 / 8)


# ------------------------------------------------------------------ activations (Korthikanti et al.)
def _per_layer(arch, **layout):
    lay = Layout(seq_len=2048, micro_batch=1, **layout)
    return layer_activation_bytes(arch, lay, dropout=True, flash_attention=False)  # the paper's kernels


def test_flash_attention_stores_no_scores():
    # FlashAttention never writes the score matrix, so without recomputation a layer keeps what selective
    # recomputation keeps (the default); the paper's rule is the unfused kernel's.
    lay = dict(seq_len=2048, micro_batch=1, tp=8)
    none = layer_activation_bytes(GPT3_175B, Layout(recompute="none", **lay), dropout=True)
    assert none == layer_activation_bytes(GPT3_175B, Layout(recompute="selective", **lay), dropout=True)
    assert none < _per_layer(GPT3_175B, tp=8) / 3


def test_korthikanti_per_layer_formulas_by_hand():
    # §4, Table 2 of the paper: s·b·h·(34 + 5as/h); TP: (10 + 24/t + 5as/(ht)); TP+SP: (34/t + 5as/(ht));
    # TP + selective: (10 + 24/t); TP+SP + selective: 34/t; full recompute keeps the layer input 2sbh.
    s, b, h, a, t = 2048, 1, 12288, 96, 8
    sbh = s * b * h
    attn = 5 * a * s / h
    assert _per_layer(GPT3_175B) == pytest.approx(sbh * (34 + attn))
    assert _per_layer(GPT3_175B, tp=t, sequence_parallel=False) == pytest.approx(sbh * (10 + 24 / t + attn / t))
    assert _per_layer(GPT3_175B, tp=t) == pytest.approx(sbh * (34 / t + attn / t))
    assert _per_layer(GPT3_175B, tp=t, sequence_parallel=False, recompute="selective") == \
        pytest.approx(sbh * (10 + 24 / t))
    assert _per_layer(GPT3_175B, tp=t, recompute="selective") == pytest.approx(sbh * 34 / t)
    assert _per_layer(GPT3_175B, recompute="full") == pytest.approx(2 * sbh)


def test_selective_recompute_saves_70_percent_for_gpt3():
    # Korthikanti et al. §5 (quoted in the Megatron-LM / Accelerate docs): "for GPT-3, this leads to
    # 70% reduction in required memory for activations at the expense of only 2.7% FLOPs overhead".
    saved = 1 - _per_layer(GPT3_175B, tp=8, recompute="selective") / _per_layer(GPT3_175B, tp=8)
    assert saved == pytest.approx(0.70, abs=0.01)


@pytest.mark.parametrize("arch", [MTNLG_530B, GPT_1T])
def test_sequence_parallel_and_selective_recompute_cut_activations_5x(arch):
    # Korthikanti et al., abstract: "our method reduces activation memory by 5x" against the tensor
    # parallel baseline (t = 8, no recomputation); 21 / 4.25 = 4.9 for these two shapes.
    baseline = _per_layer(arch, tp=8, sequence_parallel=False)
    present = _per_layer(arch, tp=8, recompute="selective")
    assert baseline / present == pytest.approx(5.0, rel=0.03)


@pytest.mark.parametrize("pp", [1, 2, 8, 32, 96])
def test_first_pipeline_stage_holds_all_layers_worth(pp):
    # §4.2 (pipeline parallelism): with 1F1B the first stage holds p micro-batches of L/p layers,
    # L layers in all.
    layout = Layout(tp=8, pp=pp, dp=1, seq_len=2048, recompute="selective")
    mem = training_memory(GPT3_175B, layout, dropout=True)
    assert mem.stage == 0
    assert mem.activations == pytest.approx(96 * 2048 * 12288 * 34 / 8)


def test_full_recompute_stores_inputs_plus_one_layer():
    layout = Layout(tp=8, seq_len=2048, recompute="full")
    sbh = 2048 * 12288
    mem = training_memory(GPT3_175B, layout, dropout=True)
    assert mem.activations == pytest.approx(95 * 2 * sbh / 8 + 34 * sbh / 8)


def test_few_microbatches_cap_the_in_flight_count():
    layout = Layout(tp=8, pp=8, dp=1, seq_len=2048, recompute="selective")
    full = training_memory(GPT3_175B, layout)
    capped = training_memory(GPT3_175B, layout, microbatches=2)
    assert capped.activations == pytest.approx(full.activations * 2 / 8)


def test_gqa_shrinks_kv_activations():
    mha = LLAMA3_8B.replace(kv_heads=32)
    lay = Layout(seq_len=4096, recompute="selective")
    assert layer_activation_bytes(LLAMA3_8B, lay) < layer_activation_bytes(mha, lay)


def test_expert_parallelism_shards_expert_states(hf_config):
    mixtral = load_hf_config(hf_config("mixtral-8x7b"))
    totals = [training_memory(mixtral, Layout(tp=2, dp=32, ep=ep, zero=1, seq_len=4096,
                                              recompute="selective")).total for ep in (1, 2, 4, 8)]
    assert totals == sorted(totals, reverse=True) and totals[-1] < 0.3 * totals[0]


def test_tied_embedding_is_copied_to_last_stage():
    tied = LLAMA3_8B.replace(tied_embeddings=True)
    lay = Layout(pp=2, dp=1, seq_len=1024, recompute="full")
    last = stage_memory(tied, lay, 1)
    first = stage_memory(tied, lay, 0)
    assert last.weights == pytest.approx(first.weights)  # both hold vocab × hidden + 16 layers


# ------------------------------------------------------------------ serving
def test_llama3_8b_weights_and_kv_cache():
    mem = inference_memory(LLAMA3_8B, context=8192, batch=1)
    assert mem.weights / GB == pytest.approx(16.06, abs=0.01)  # 8.03B parameters × 2 bytes
    assert mem.kv_cache == 2 * 32 * 8 * 128 * 8192 * 2  # = 1.07 GB
    assert mem.kv_cache / GB == pytest.approx(1.07, abs=0.005)
    assert fits_one_gpu(LLAMA3_8B, get_hardware("H100-SXM"), context=8192, batch=1).fits


def test_70b_does_not_serve_on_one_80gb_gpu_in_bf16():
    fit = fits_one_gpu(LLAMA3_70B, get_hardware("H100-SXM"), context=8192, batch=1, headroom=0.0)
    assert not fit.fits and fit.margin_bytes < -60 * GB  # 141 GB of weights alone
    assert fits_one_gpu(LLAMA3_70B, 80e9, context=8192, weight_bytes=0.5).fits  # 4-bit weights do fit


def test_mla_caches_the_latent(hf_config):
    # DeepSeek-V2 (arXiv 2405.04434) §2.1: MLA caches kv_lora_rank + qk_rope_head_dim = 512 + 64 per
    # token and layer; DeepSeek-V3 has 61 layers.
    v3 = load_hf_config(hf_config("deepseek-v3"))
    assert inference_memory(v3, context=1).kv_bytes_per_token == 61 * (512 + 64) * 2


def test_fit_margin_and_usable_bytes():
    fit = fits(MemoryBreakdown(10e9, 10e9, 50e9, 10e9), get_hardware("H100-SXM"), headroom=0.1)
    assert fit.usable_bytes == pytest.approx(72e9) and fit.margin_bytes == pytest.approx(-8e9)
    assert fit.hardware == "H100-SXM" and not fit.fits and fit.as_dict()["margin_bytes"] < 0


# ------------------------------------------------------------------ validation
@pytest.mark.parametrize("kwargs, field, shown", [
    (dict(tp=0), "tp", "0"), (dict(pp=-1), "pp", "-1"), (dict(dp=2.0), "dp", "2.0"),
    (dict(zero=4), "zero", "4"), (dict(recompute="some"), "recompute", "'some'"),
    (dict(dp=6, ep=4), "ep", "4"), (dict(sequence_parallel="yes"), "sequence_parallel", "'yes'"),
    (dict(seq_len=0), "seq_len", "0"), (dict(micro_batch=0), "micro_batch", "0"),
])
def test_bad_layout_names_field_rule_and_value(kwargs, field, shown):
    with pytest.raises(InputError) as err:
        Layout(**kwargs)
    assert err.value.input_name == field and f"(got {shown})" in str(err.value)


def test_unknown_recompute_lists_choices():
    with pytest.raises(InputError, match="none, selective, full"):
        Layout(recompute="partial")


def test_for_gpus_checks_the_product():
    assert Layout.for_gpus(64, tp=8, pp=2).dp == 4
    with pytest.raises(InputError, match="tp × cp × pp × dp must equal gpus 64"):
        Layout.for_gpus(64, tp=8, pp=2, dp=8)
    with pytest.raises(InputError, match="multiple of tp × cp × pp = 16"):
        Layout.for_gpus(13, tp=8, pp=2)


@pytest.mark.parametrize("layout, field", [
    (Layout(tp=16), "tp"),  # Llama 3 8B has 8 KV heads
    (Layout(pp=33), "pp"),
    (Layout(dp=2, ep=2), "ep"),  # dense model
])
def test_layout_must_suit_the_architecture(layout, field):
    with pytest.raises(InputError) as err:
        training_memory(LLAMA3_8B, layout)
    assert err.value.input_name == field


def test_bad_bytes_and_headroom():
    with pytest.raises(InputError, match="weight_bytes"):
        training_memory(LLAMA3_8B, Layout(), weight_bytes=0)
    with pytest.raises(InputError, match="headroom"):
        fits(1e9, get_hardware("H100-SXM"), headroom=1.0)
    with pytest.raises(InputError, match="context"):
        inference_memory(LLAMA3_8B, context=0)


# ------------------------------------------------------------------ properties
@st.composite
def arch_and_layout(draw, moe=None):
    kv = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv * draw(st.sampled_from([1, 2, 4]))
    head_dim = draw(st.sampled_from([16, 32, 64]))
    layers = draw(st.integers(1, 24))
    is_moe = draw(st.booleans()) if moe is None else moe
    extra = {}
    if is_moe:
        experts = draw(st.sampled_from([4, 8, 16]))
        extra = dict(experts=experts, active_experts=draw(st.integers(1, experts)),
                     expert_ffn=draw(st.integers(8, 512)),
                     shared_experts=draw(st.integers(0, 2)), dense_layers=draw(st.integers(0, layers - 1)))
    ffn = draw(st.integers(8, 2048)) if not is_moe or extra["dense_layers"] else 0
    arch = Architecture(layers, heads * head_dim, ffn, heads=heads, kv_heads=kv, head_dim=head_dim,
                        vocab=draw(st.integers(1, 5000)), ffn_kind=draw(st.sampled_from(["gated", "plain"])),
                        tied_embeddings=draw(st.booleans()), **extra)
    tp = draw(st.sampled_from([t for t in (1, 2, 4, 8) if kv % t == 0]))
    pp = draw(st.sampled_from([p for p in range(1, layers + 1) if layers % p == 0]))
    dp = draw(st.sampled_from([1, 2, 4, 8, 16, 64]))
    ep = draw(st.sampled_from([e for e in (1, 2, 4) if dp % e == 0 and arch.experts % e == 0])) if is_moe else 1
    layout = Layout(tp=tp, pp=pp, dp=dp, ep=ep, zero=draw(st.sampled_from([0, 1, 2, 3])),
                    recompute=draw(st.sampled_from(["none", "selective", "full"])),
                    micro_batch=draw(st.integers(1, 4)), seq_len=draw(st.integers(1, 4096)))
    return arch, layout


def _with(layout, **changes):
    return Layout(**{**layout.__dict__, **changes, "sequence_parallel": None})


@FAST
@given(arch_and_layout())
def test_memory_never_rises_with_the_zero_stage(case):
    arch, layout = case
    mems = [training_memory(arch, _with(layout, zero=z)) for z in range(4)]
    for lower, higher in zip(mems, mems[1:]):
        assert higher.total <= lower.total * (1 + 1e-12)


@FAST
@given(arch_and_layout())
def test_memory_never_rises_with_recomputation(case):
    arch, layout = case
    mems = [training_memory(arch, _with(layout, recompute=r)).total for r in ("none", "selective", "full")]
    assert mems[0] >= mems[1] * (1 - 1e-12) and mems[1] >= mems[2] * (1 - 1e-12)


@FAST
@given(arch_and_layout())
def test_memory_never_rises_with_tensor_parallelism(case):
    arch, layout = case
    if arch.kv_heads % (2 * layout.tp):
        return
    assert training_memory(arch, _with(layout, tp=2 * layout.tp)).total <= \
        training_memory(arch, layout).total * (1 + 1e-12)


@FAST
@given(arch_and_layout(moe=False), st.data())
def test_memory_never_rises_with_pipeline_stages(case, data):
    # Dense models only: in a MoE model with leading dense layers, 1F1B can put more in-flight
    # micro-batches of wide layers on one stage as pp grows (a real effect, not a bug).
    arch, layout = case
    bigger = data.draw(st.sampled_from([p for p in range(layout.pp, arch.layers + 1) if arch.layers % p == 0]))
    assert training_memory(arch, _with(layout, pp=bigger)).total <= training_memory(arch, layout).total * (1 + 1e-12)


@FAST
@given(arch_and_layout(), st.integers(1, 64))
def test_fullest_stage_shortcut_matches_every_stage(case, microbatches):
    # Reference equivalence: training_memory costs at most four candidate stages; the fullest of all
    # stages must be among them.
    arch, layout = case
    every = max(stage_memory(arch, layout, i, microbatches=microbatches).total for i in range(layout.pp))
    assert training_memory(arch, layout, microbatches=microbatches).total == pytest.approx(every, rel=1e-12)
