"""The step-time model: its parts add up, the bubble and the rings follow their formulas, bad input is refused."""

from dataclasses import replace

import pytest

from perflaw.law.architecture import Architecture
from perflaw.law.errors import InputError
from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.memory import Layout
from perflaw.optimizer.cost.step_constants import DEFAULT_CONSTANTS
from perflaw.optimizer.cost.step_time import OPTIMIZER_BYTES_PER_PARAM, Stack, step_time

# Llama 3 70B (meta-llama/Meta-Llama-3-70B config.json) and a small MoE of the Qwen3-30B-A3B shape.
LLAMA70 = Architecture(layers=80, hidden=8192, ffn=28672, heads=64, kv_heads=8, vocab=128256)
MOE = Architecture(layers=48, hidden=2048, ffn=0, heads=32, kv_heads=4, head_dim=128, vocab=151936, experts=128,
                   active_experts=8, expert_ffn=768)
H100 = get_hardware("H100-SXM")


def run(arch=LLAMA70, hw=H100, gb=256, **layout):
    base = dict(tp=8, pp=4, dp=2, seq_len=8192, zero=1)
    return step_time(arch, Layout(**{**base, **layout}), hw, global_batch=gb)


def test_the_breakdown_adds_up_to_the_step():
    for st in (run(), run(vpp=5), run(recompute="full"), run(arch=MOE, tp=1, pp=1, dp=64, ep=16, gb=512),
               run(cp=2, dp=1)):
        assert sum(st.breakdown().values()) == pytest.approx(st.step_s, rel=1e-12)
        assert 0 < st.mfu < 1


@pytest.mark.parametrize("pp, vpp, gb", [(4, 1, 256), (4, 5, 256), (8, 2, 64), (2, 1, 16)])
def test_the_bubble_is_p_minus_one_over_m_v_of_the_pipelined_work(pp, vpp, gb):
    st = run(pp=pp, vpp=vpp, dp=16 // pp, gb=gb)
    m = gb // (16 // pp)
    work = st.compute_s + st.recompute_s + st.tp_s + st.cp_s + st.ep_s
    assert st.microbatches == m
    assert st.bubble_s == pytest.approx((pp - 1) / (m * vpp) * work, rel=1e-12)


def test_no_pipeline_no_bubble_and_no_sends():
    st = run(pp=1, dp=8)
    assert st.bubble_s == 0 and st.pp_s == 0


def test_tensor_parallel_time_is_the_ring_volume_over_nvlink():
    # Four collectives per pass, ring volume (t - 1)/t of the layer's activations, at half the two-way catalog
    # figure times the ring efficiency, the unhidden share when overlapped; forward and backward.
    st = step_time(LLAMA70, Layout(tp=8, pp=1, dp=1, seq_len=8192, zero=1), H100, global_batch=1)
    c = DEFAULT_CONSTANTS
    per_pass = 4 * 7 / 8 * 8192 * 8192 * 2 / (900e9 / 2 * c.scaleup) * (1 - c.tp_hidden)
    assert st.tp_s == pytest.approx(80 * 2 * per_pass, rel=1e-12)
    plain = step_time(LLAMA70, Layout(tp=8, pp=1, dp=1, seq_len=8192, zero=1), H100, global_batch=1,
                      stack=Stack(tp_overlap=False))
    assert plain.tp_s == pytest.approx(st.tp_s / (1 - c.tp_hidden), rel=1e-12)


def test_data_parallel_traffic_without_overlap_is_the_ring_formula():
    # TP 8 fills each 8-GPU domain, so each replica's ring goes GPU to GPU over the network (50 GB/s per
    # H100, at the network ring efficiency). ZeRO-1: reduce-scatter of fp32 gradients, all-gather of bf16 weights.
    lay = Layout(tp=8, pp=1, dp=16, seq_len=8192, zero=1)
    st = step_time(LLAMA70, lay, H100, global_batch=16, stack=Stack(dp_overlap=False))
    p = LLAMA70.params()
    params = (p.total - p.norms) / 8 + p.norms  # norm weights are not split
    ring = 15 / 16 * params / (50e9 * DEFAULT_CONSTANTS.scaleout)
    assert st.dp_s == pytest.approx(ring * (4 + 2), rel=1e-12)
    ddp = step_time(LLAMA70, replace(lay, zero=0), H100, global_batch=16, stack=Stack(dp_overlap=False))
    assert ddp.dp_s == pytest.approx(ring * 2 * 4, rel=1e-12)  # all-reduce of the fp32 gradients
    # The Adam step reads and writes its shard once.
    assert st.optimizer_s == pytest.approx(OPTIMIZER_BYTES_PER_PARAM * params / 16
                                           / (3.35e12 * DEFAULT_CONSTANTS.hbm), rel=1e-12)


def test_a_ring_that_shares_a_domain_enters_it_once():
    # TP 1: all 8 GPUs of a node are in one data-parallel ring, so its data enters the node through 8 ports
    # (8 × 50 GB/s, more than NVLink's 450 × 0.65): NVLink is the limit.
    small = Architecture(layers=24, hidden=2048, ffn=8192, heads=16, vocab=50368, ffn_kind="plain")
    lay = Layout(tp=1, pp=1, dp=64, seq_len=2048, zero=1)
    st = step_time(small, lay, H100, global_batch=64, stack=Stack(dp_overlap=False))
    params = small.params().total
    assert st.dp_s == pytest.approx(63 / 64 * params * 6 / (450e9 * DEFAULT_CONSTANTS.scaleup), rel=1e-12)


def test_overlapped_gradient_traffic_hides_behind_the_backward():
    lay = dict(tp=8, pp=1, dp=16, zero=1)
    hidden = run(gb=64, **lay).dp_s
    exposed = step_time(LLAMA70, Layout(seq_len=8192, **lay), H100, global_batch=64, stack=Stack(dp_overlap=False))
    assert 0 <= hidden < exposed.dp_s / 3


def test_full_recomputation_costs_one_more_forward():
    plain, full = run(recompute="none"), run(recompute="full")
    assert full.recompute_s == pytest.approx(full.compute_s / 3, rel=0.1)  # matmuls dominate: backward = 2 x forward
    assert full.step_s > plain.step_s
    assert 0 < run(recompute="selective").recompute_s < full.recompute_s / 2  # the attention forward only


def test_fp8_is_faster_than_bf16_but_not_twice():
    bf16 = step_time(LLAMA70, Layout(tp=8, pp=4, dp=2, seq_len=8192, zero=1), H100, global_batch=256)
    fp8 = step_time(LLAMA70, Layout(tp=8, pp=4, dp=2, seq_len=8192, zero=1), H100, global_batch=256, precision="fp8")
    assert 1.1 < bf16.step_s / fp8.step_s < 2.0
    assert fp8.mfu < bf16.mfu  # measured against a peak twice as high


def test_context_parallelism_splits_the_work_and_reduces_gradients_like_data_parallelism():
    one = run(tp=8, cp=1, pp=1, dp=2, gb=2)  # two sequences, one per replica
    two = run(tp=8, cp=2, pp=1, dp=1, gb=1)  # one sequence split over two groups
    assert two.tokens_per_step * 2 == one.tokens_per_step
    # Each GPU computes half a sequence against the whole context: half the work of a whole one.
    assert two.compute_s == pytest.approx(one.compute_s / 2, rel=0.05)
    # The two context ranks hold the same weights, so their gradients are reduced as two replicas' are, with
    # half the backward to hide behind.
    assert two.dp_s > one.dp_s >= 0
    # At 8K tokens the K/V ring hides behind attention.
    assert two.cp_s == 0


def test_expert_all_to_all_leaves_the_domain_past_eight_ranks():
    near = run(arch=MOE, tp=1, pp=1, dp=64, ep=8, gb=512)
    far = run(arch=MOE, tp=1, pp=1, dp=64, ep=32, gb=512)
    assert far.ep_s > near.ep_s > 0


@pytest.mark.parametrize("kwargs, name", [
    (dict(global_batch=3), "global_batch"),
    (dict(layout=Layout(tp=16, seq_len=8192)), "tp"),
    (dict(layout=Layout(dp=4, ep=2, seq_len=8192)), "ep"),
    (dict(layout=Layout(pp=40, vpp=3, seq_len=8192)), "pp"),
    (dict(precision="fp4"), "precision"),
])
def test_bad_input_names_the_input(kwargs, name):
    args = dict(layout=Layout(tp=8, dp=2, seq_len=8192), global_batch=4)
    args.update(kwargs)
    lay = args.pop("layout")
    with pytest.raises(InputError) as err:
        step_time(LLAMA70, lay, H100, **args)
    assert err.value.input_name == name


def test_a_network_the_catalog_lacks_is_asked_for():
    no_network = replace(H100, scaleout_gbps=None)
    lay = Layout(tp=8, dp=4, seq_len=8192, zero=1)
    with pytest.raises(InputError) as err:
        step_time(LLAMA70, lay, no_network, global_batch=4)
    assert err.value.input_name == "scaleout_gbps"
    assert step_time(LLAMA70, lay, no_network, global_batch=4, scaleout_gbps=50).step_s == \
        pytest.approx(step_time(LLAMA70, lay, H100, global_batch=4).step_s, rel=1e-12)
    inside = Layout(tp=8, dp=1, seq_len=8192, zero=1)  # one domain: no network needed
    assert step_time(LLAMA70, inside, no_network, global_batch=1).step_s > 0
    # Pure data parallelism over the network needs no NVLink figure.
    no_nvlink = replace(H100, scaleup_gbps=None, scaleup_domain=1)
    assert step_time(LLAMA70, Layout(dp=4, seq_len=8192, zero=3), no_nvlink, global_batch=4).dp_s >= 0


def test_only_the_fitted_hardware_families_are_timed():
    for name in ("MI300X", "TPU-v5p", "V100-SXM2-32GB", "Gaudi3"):
        with pytest.raises(InputError) as err:
            step_time(LLAMA70, Layout(tp=8, seq_len=8192), get_hardware(name), global_batch=1)
        assert err.value.input_name == "hardware" and "fitted" in err.value.rule


@pytest.mark.parametrize("kwargs, name", [
    (dict(scaleout_gbps=0), "scaleout_gbps"), (dict(scaleout_gbps=-5), "scaleout_gbps"),
    (dict(scaleout_gbps="50"), "scaleout_gbps"), (dict(stack={}), "stack"), (dict(constants=1), "constants"),
])
def test_bad_options_are_refused(kwargs, name):
    with pytest.raises(InputError) as err:
        step_time(LLAMA70, Layout(tp=8, dp=4, seq_len=8192), H100, global_batch=4, **kwargs)
    assert err.value.input_name == name


def test_tp_must_divide_the_heads():
    twelve = Architecture(layers=12, hidden=768, ffn=3072, heads=12, vocab=50257)
    with pytest.raises(InputError) as err:
        step_time(twelve, Layout(tp=8, seq_len=1024), H100, global_batch=1)
    assert err.value.input_name == "tp"


def test_zero2_reduces_every_micro_batch_and_tied_embeddings_count_once():
    z1 = step_time(LLAMA70, Layout(tp=8, pp=4, dp=16, seq_len=8192, zero=1), H100, global_batch=512,
                   stack=Stack(dp_overlap=False))
    z2 = step_time(LLAMA70, Layout(tp=8, pp=4, dp=16, seq_len=8192, zero=2), H100, global_batch=512,
                   stack=Stack(dp_overlap=False))
    ring = z1.dp_s / 6  # fp32 gradients reduce-scattered (4 bytes), bf16 weights gathered (2)
    assert z2.dp_s == pytest.approx(ring * (4 * z2.microbatches + 2), rel=1e-9)
    tied = Architecture(layers=16, hidden=2048, ffn=8192, heads=16, vocab=128256, tied_embeddings=True)
    lay = Layout(dp=64, seq_len=4096, zero=1)
    st = step_time(tied, lay, H100, global_batch=64, stack=Stack(dp_overlap=False))
    per_value = 63 / 64 / (450e9 * DEFAULT_CONSTANTS.scaleup) * (4 + 2)
    assert st.dp_s == pytest.approx(tied.params().total * per_value, rel=1e-9)


def test_layout_checks_cp_and_vpp():
    with pytest.raises(InputError) as err:
        Layout(cp=3, seq_len=8192)
    assert err.value.input_name == "cp"
    with pytest.raises(InputError) as err:
        Layout(vpp=2)
    assert err.value.input_name == "vpp"
    assert Layout(tp=2, cp=2, pp=2, dp=2).gpus == 16
    assert "CP 2" in Layout(cp=2).summary() and "VPP 4" in Layout(pp=2, vpp=4).summary()


def test_a_batch_of_layouts_times_each_as_alone():
    """step_times shares the layer and stage times of layouts that differ in their ZeRO stage only; each
    result is the one step_time gives that layout alone (a MoE model with leading dense layers, uneven stages)."""
    from perflaw.optimizer.cost.step_time import step_times
    moe = replace(MOE, layers=47, dense_layers=3, ffn=6144)
    layouts = [Layout(tp=tp, pp=pp, dp=dp, ep=ep, zero=zero, seq_len=4096, recompute=mode)
               for tp, pp, dp, ep in ((1, 4, 16, 8), (2, 2, 16, 4), (1, 1, 64, 16))
               for zero in (0, 1, 2, 3) for mode in ("none", "full")]
    batches = [4 * 64] * len(layouts)
    together = step_times(moe, layouts, H100, global_batches=batches)
    alone = [step_time(moe, lay, H100, global_batch=gb) for lay, gb in zip(layouts, batches)]
    assert together == alone
    assert len({st.dp_s for st in together}) > len(layouts) // 4  # the ZeRO stages do differ


@pytest.mark.parametrize("arch", [LLAMA70, MOE], ids=["dense", "moe"])
def test_layouts_timed_together_are_timed_as_one_by_one(arch):
    """step_times shares a stage's times among layouts that differ only in ZeRO stage, DP degree or
    interleaving (step_time._NOT_STAGED): every layout a layout search times gets the same StepTime
    as when it is timed alone."""
    from perflaw.optimizer.cost import layout as layouts_module
    from perflaw.optimizer.cost.step_time import step_times

    timed = []

    def keep(arch_, layouts, hw, **kwargs):
        timed.append((layouts, kwargs["global_batches"]))
        return step_times(arch_, layouts, hw, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(layouts_module, "step_times", keep)
    try:
        found = layouts_module.search_layout(arch, H100, 512, seq_len=8192)
    finally:
        mp.undo()
    layouts, batches = timed[0]
    assert found.step is not None and len({(lay.tp, lay.pp) for lay in layouts}) > 2
    assert len({(lay.dp, lay.vpp, lay.zero) for lay in layouts}) > 2  # the fields shared over vary
    together = step_times(arch, layouts, H100, global_batches=batches)
    assert together == [step_time(arch, lay, H100, global_batch=gb) for lay, gb in zip(layouts, batches)]
