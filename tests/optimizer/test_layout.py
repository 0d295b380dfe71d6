"""Layout search checked against published runs and plain infeasibility cases."""


import pytest

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.law.hf_config import load_hf_config
from perflaw.optimizer.cost.hardware import Hardware, get_hardware
from perflaw.optimizer.cost.layout import RECOMPUTE_OVERHEAD, default_batch_sequences, search_layout
from perflaw.optimizer.cost.memory import Layout, fits, training_memory
from perflaw.optimizer.cost.step_time import step_time

LLAMA31_405B = Architecture(126, 16384, 53248, heads=128, kv_heads=8, vocab=128256)
LLAMA3_70B = Architecture(80, 8192, 28672, heads=64, kv_heads=8, vocab=128256)
LLAMA3_8B = Architecture(32, 4096, 14336, heads=32, kv_heads=8, vocab=128256)
H100 = get_hardware("H100-SXM")


def test_llama31_405b_on_16384_h100_fits_with_tp8():
    # Llama 3 paper (arXiv 2407.21783), 4D-parallelism table: 405B at 8K tokens on 16,384 H100 used
    # TP 8, PP 16, DP 128 with FSDP. The memory rule also lands on TP 8: at 8K tokens the activations
    # need the full NVLink domain. It picks PP 1, not 16: under 1F1B the first stage stores L layers'
    # worth of activations whatever pp is, and ZeRO-3 already shards the weights, so PP buys no memory;
    # 126 layers also have no 16-way even split. FlashAttention stores no score matrix, so no recomputation.
    result = search_layout(LLAMA31_405B, H100, 16384, seq_len=8192, objective="memory")
    assert result.ok and result.binding is None and result.shortfall_bytes == 0 and result.objective == "memory"
    assert result.layout.tp == 8 and result.layout.gpus == 16384
    assert result.layout.recompute == "none" and result.layout.zero == 3
    assert result.recompute_overhead == RECOMPUTE_OVERHEAD["none"] and result.step is None
    assert result.fit.margin_bytes > 0 and result.feasible <= result.tried
    assert "TP 8" in result.explanation and "H100-SXM" in result.explanation
    # Meta's own layout (16 stages of 8 or 7 layers) also fits in this model, with less margin.
    meta = Layout(tp=8, pp=16, dp=128, zero=3, recompute="selective", seq_len=8192)
    meta_fit = fits(training_memory(LLAMA31_405B, meta), H100)
    assert meta_fit.fits and meta_fit.margin_bytes < result.fit.margin_bytes


def test_the_fastest_layout_for_llama31_405b_pipelines_and_interleaves():
    # With the step-time model the search leaves ZeRO-3 over 2,048 replicas: at Meta's 16M-token batch
    # it takes TP 8 with an interleaved pipeline, as Meta did (TP 8, PP 16), at an MFU near the 38-43 %
    # Meta reports for BF16 (arXiv 2407.21783 §3.3.4).
    result = search_layout(LLAMA31_405B, H100, 16384, seq_len=8192, global_batch_tokens=16 * 1024 * 1024)
    lay = result.layout
    assert result.objective == "time" and lay.tp == 8 and lay.pp > 1 and lay.vpp > 1 and lay.zero < 3
    assert 0.33 < result.mfu < 0.48
    assert len(result.runners_up) == 3
    assert all(st.tokens_per_gpu_s <= result.step.tokens_per_gpu_s for _, st in result.runners_up)
    d = result.as_dict()
    assert d["mfu"] == result.mfu and d["runners_up"][0]["mfu"] <= d["mfu"] and "MFU" in result.explanation


def test_without_bandwidths_the_search_falls_back_to_the_rule():
    inline = Hardware.inline(1000, 80, source="test")
    result = search_layout(LLAMA3_8B, inline, 16, seq_len=4096)
    assert result.ok and result.objective == "memory" and "not timed" in result.timing_note


def test_405b_on_one_node_is_memory_bound():
    result = search_layout(LLAMA31_405B, H100, 8, seq_len=8192)
    assert not result.ok and result.binding == "memory" and result.feasible == 0
    assert result.shortfall_bytes > 700e9  # 16 bytes × 405B / 8 GPUs = 810 GB of model states each
    assert result.leanest.tp * result.leanest.pp == 8 and result.leanest.recompute == "full"
    assert "GB over the 72.0 GB usable on H100-SXM" in result.explanation
    assert result.fit.margin_bytes == pytest.approx(-result.shortfall_bytes)


def test_prime_gpu_count_explains_the_only_split():
    result = search_layout(LLAMA3_70B, H100, 13, seq_len=8192)
    assert result.binding == "memory" and result.splits == ((1, 1, 13, 1),)
    assert "13 GPUs (a prime number) allow only TP 1 × PP 1 × DP 13" in result.explanation
    assert result.shortfall_bytes > 0


def test_batch_that_cannot_split_is_a_divisibility_limit():
    result = search_layout(LLAMA3_70B, H100, 13, seq_len=8192, global_batch_tokens=1024 * 8192)
    assert result.binding == "divisibility" and result.tried == 0 and result.layout is None
    assert result.explanation.startswith("13 GPUs cannot be split")
    assert "1024 sequences" in result.explanation


def test_least_recomputation_then_least_model_parallelism():
    # An 8B model at 2K tokens fits on 64 H100 without recomputation and without TP/PP.
    result = search_layout(LLAMA3_8B, H100, 64, seq_len=2048, objective="memory")
    assert result.layout.recompute == "none" and result.layout.tp * result.layout.pp == 1
    assert result.recompute_overhead == 0.0
    # Forbid "none": the next cheapest is selective, never full.
    result = search_layout(LLAMA3_8B, H100, 64, seq_len=2048, recompute=("selective", "full"), objective="memory")
    assert result.layout.recompute == "selective"


def test_moe_search_uses_expert_parallelism(hf_config):
    mixtral = load_hf_config(hf_config("mixtral-8x7b"))
    result = search_layout(mixtral, H100, 64, seq_len=4096)
    assert result.ok and result.layout.ep > 1 and 8 % result.layout.ep == 0


def test_mla_tp_only_needs_to_divide_heads(hf_config):
    v3 = load_hf_config(hf_config("deepseek-v3"))
    result = search_layout(v3, get_hardware("H800-SXM"), 2048, seq_len=4096)
    assert {s[0] for s in result.splits} == {1, 2, 4, 8}


def test_memory_options_pass_through_and_are_checked():
    lean = search_layout(LLAMA3_8B, H100, 8, seq_len=4096, optimizer_bytes=4)
    assert lean.ok
    with pytest.raises(InputError, match="is not a memory option"):
        search_layout(LLAMA3_8B, H100, 8, seq_len=4096, kv_bytes=1)


@pytest.mark.parametrize("kwargs, field", [
    (dict(zero_stages=(4,)), "zero_stages"), (dict(recompute=("fast",)), "recompute"),
    (dict(recompute=()), "recompute"), (dict(global_batch_tokens=1000), "global_batch_tokens"),
    (dict(max_pp=0), "max_pp"), (dict(headroom=-0.1), "headroom"), (dict(objective="fast"), "objective"),
    (dict(precision="fp4"), "precision"),
])
def test_bad_search_inputs(kwargs, field):
    with pytest.raises(InputError) as err:
        search_layout(LLAMA3_8B, H100, 8, seq_len=4096, **kwargs)
    assert err.value.input_name == field


def test_as_dict_is_plain_data():
    d = search_layout(LLAMA3_8B, "H100-SXM", 8, seq_len=4096).as_dict()
    assert d["ok"] and d["layout"]["gpus"] == 8 and isinstance(d["explanation"], str)


@pytest.mark.parametrize("stem, hardware, gpus, seq_len", [
    ("llama-3-8b", "H100-SXM", 64, 8192), ("llama-3-70b", "H100-SXM", 512, 4096),
    ("mixtral-8x7b", "H100-SXM", 128, 4096), ("qwen3-30b-a3b", "H800-SXM", 64, 4096)])
def test_no_layout_that_fits_is_faster_than_the_chosen_one(hf_config, stem, hardware, gpus, seq_len):
    # The search times only each split's least recomputation; timing every layout that fits, one by one,
    # finds none faster.
    arch, hw = load_hf_config(hf_config(stem)), get_hardware(hardware)
    found = search_layout(arch, hw, gpus, seq_len=seq_len)
    best = found.step.tokens_per_gpu_s
    target = default_batch_sequences(gpus, seq_len)
    timed = 0
    even = [sp for sp in found.splits if target % sp[2] == 0]  # the default batch splits these evenly
    for tp, pp, dp, ep in even or found.splits:
        m = -(-target // dp)
        for vpp in [1] + [v for v in (2, 4, 8) if pp > 1 and pp * v <= arch.layers and m % pp == 0]:
            for zero in (0, 1, 2, 3):
                for mode in ("none", "selective", "full"):
                    lay = Layout(tp=tp, pp=pp, dp=dp, ep=ep, vpp=vpp, zero=zero, recompute=mode, seq_len=seq_len)
                    if not fits(training_memory(arch, lay, microbatches=m), hw).fits:
                        continue
                    timed += 1
                    st = step_time(arch, lay, hw, global_batch=m * dp)
                    assert st.tokens_per_gpu_s <= best * (1 + 1e-12), lay.summary()
    assert timed > len(found.runners_up)


def test_the_default_batch_follows_the_gpu_count_and_splits_evenly():
    # 1,024 tokens per GPU within 4M..16M (Llama 3 405B: 4M tokens at first, 16M on 16,384 GPUs).
    assert default_batch_sequences(512, 4096) == 1024  # 4M tokens
    assert default_batch_sequences(8192, 4096) == 2048  # 8M
    assert default_batch_sequences(65536, 8192) == 2048  # 16M
    found = search_layout(LLAMA3_70B, H100, 16384, seq_len=8192)
    assert found.step.tokens_per_step == 16 * 1024 * 1024 and 2048 % found.layout.dp == 0


def test_memory_and_time_assume_the_same_attention_kernels():
    from perflaw.optimizer.cost.step_time import Stack
    unfused = search_layout(LLAMA3_70B, H100, 64, seq_len=8192, stack=Stack(flash_attention=False))
    lay = unfused.layout
    assert training_memory(LLAMA3_70B, lay, microbatches=unfused.step.microbatches,
                           flash_attention=False).total == unfused.memory.total
    with pytest.raises(InputError) as err:
        search_layout(LLAMA3_70B, H100, 64, seq_len=8192, stack=Stack(flash_attention=False), flash_attention=True)
    assert err.value.input_name == "flash_attention"
