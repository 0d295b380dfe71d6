"""The array form of training memory equals the scalar one to the last bit, and the layout search that
uses it picks what costing every layout one by one would pick."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perflaw.law.architecture import Architecture
from perflaw.law.hf_config import load_hf_config
from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.layout import search_layout
from perflaw.optimizer.cost.memory import RECOMPUTE_MODES, ZERO_STAGES, Layout, fits, training_memory
from perflaw.optimizer.cost.memory_grid import training_totals
from tests.conftest import HF_CONFIGS

FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONFIGS = ("llama-3-8b", "llama-3-70b", "mixtral-8x7b", "deepseek-v3", "qwen3-30b-a3b", "gemma-2-9b", "gpt2",
           "qwen2-57b-a14b", "olmoe-1b-7b")
MODELS = [load_hf_config(HF_CONFIGS / f"{stem}.json") for stem in CONFIGS]


@st.composite
def dense_models(draw):
    heads = draw(st.sampled_from([8, 16, 32, 64, 96]))
    kv = draw(st.sampled_from([k for k in (1, 2, 4, 8, heads) if heads % k == 0]))
    return Architecture(draw(st.integers(2, 96)), heads * draw(st.sampled_from([64, 128])),
                        draw(st.integers(1, 64)) * 512, heads=heads, kv_heads=kv,
                        vocab=draw(st.sampled_from([32000, 128256])), tied_embeddings=draw(st.booleans()),
                        ffn_kind=draw(st.sampled_from(["gated", "plain"])))


def _valid_layouts(arch, draw, n):
    """``n`` layouts valid for ``arch``: every field drawn, then made to divide what it must."""
    out = []
    for _ in range(n):
        tp = draw(st.sampled_from([t for t in (1, 2, 4, 8) if arch.heads % t == 0
                                   and (arch.attention == "mla" or arch.kv_heads % t == 0)]))
        pp = draw(st.sampled_from([p for p in range(1, arch.layers + 1) if arch.layers % p == 0]))
        dp = draw(st.sampled_from([1, 2, 4, 8, 16, 64]))
        ep = draw(st.sampled_from([e for e in (1, 2, 4, 8, 16, 64) if dp % e == 0
                                   and (arch.experts % e == 0 if arch.is_moe else e == 1)]))
        vpp = draw(st.sampled_from([1, 2, 3, 4])) if pp > 1 else 1
        out.append(Layout(tp=tp, pp=pp, dp=dp, ep=ep, vpp=vpp, zero=draw(st.sampled_from(ZERO_STAGES)),
                          recompute=draw(st.sampled_from(RECOMPUTE_MODES)), micro_batch=draw(st.integers(1, 4)),
                          seq_len=draw(st.sampled_from([1024, 4096]))))
    return out


@FAST
@given(st.data())
def test_array_totals_equal_the_scalar_totals(data):
    arch = data.draw(st.one_of(dense_models(), st.sampled_from(MODELS)))
    micro_batch, seq_len = data.draw(st.integers(1, 4)), data.draw(st.sampled_from([1024, 4096]))
    layouts = [Layout(**{**lay.__dict__, "micro_batch": micro_batch, "seq_len": seq_len, "sequence_parallel": None})
               for lay in _valid_layouts(arch, data.draw, 8)]
    capped = data.draw(st.booleans())
    micro = [data.draw(st.integers(1, 40)) for _ in layouts] if capped else None
    options = data.draw(st.fixed_dictionaries({}, optional={"dropout": st.booleans(), "flash_attention": st.booleans(),
                                                            "activation_bytes": st.sampled_from([1, 2, 4]),
                                                            "optimizer_bytes": st.sampled_from([0, 4, 8])}))
    columns = (np.array([getattr(lay, k) for lay in layouts]) for k in ("tp", "pp", "dp", "ep", "zero"))
    got = training_totals(arch, *columns,
                          np.array([RECOMPUTE_MODES.index(lay.recompute) for lay in layouts]),
                          micro_batch=micro_batch, seq_len=seq_len, microbatches=micro,
                          vpp=np.array([lay.vpp for lay in layouts]), **options)
    want = [training_memory(arch, lay, microbatches=None if micro is None else micro[j], **options).total
            for j, lay in enumerate(layouts)]
    assert got.tolist() == want  # equal floats, not approximately equal


def _one_by_one(arch, hw, gpus, seq_len, headroom=0.1):
    """The layout search's rule applied to every layout costed alone with training_memory."""
    found = search_layout(arch, hw, gpus, seq_len=seq_len, headroom=headroom, objective="memory")
    tried = []
    for tp, pp, dp, ep in found.splits:
        for zero in ZERO_STAGES:
            for mode in RECOMPUTE_MODES:
                lay = Layout(tp=tp, pp=pp, dp=dp, ep=ep, zero=zero, recompute=mode, seq_len=seq_len)
                mem = training_memory(arch, lay)
                tried.append((lay, mem, fits(mem, hw, headroom)))
    ok = [x for x in tried if x[2].fits]
    chosen = min(ok, key=lambda x: (RECOMPUTE_MODES.index(x[0].recompute), x[0].tp * x[0].pp, x[0].zero,
                                    -x[2].margin_bytes)) if ok else None
    return found, chosen, min(tried, key=lambda x: x[1].total), len(tried), len(ok)


@pytest.mark.parametrize("stem, hardware, gpus", [
    ("llama-3-8b", "H100-SXM", 64), ("llama-3-70b", "H100-SXM", 512), ("mixtral-8x7b", "H100-SXM", 256),
    ("deepseek-v3", "H800-SXM", 2048), ("llama-3-70b", "H100-SXM", 8), ("qwen3-30b-a3b", "A100-SXM-40GB", 96)])
def test_search_picks_what_one_by_one_costing_picks(stem, hardware, gpus):
    arch, hw = load_hf_config(HF_CONFIGS / f"{stem}.json"), get_hardware(hardware)
    found, chosen, leanest, tried, ok = _one_by_one(arch, hw, gpus, 4096)
    assert (found.tried, found.feasible) == (tried, ok) and tried > 0
    assert found.leanest == leanest[0] and found.leanest_memory == leanest[1]
    if chosen is None:
        assert not found.ok and found.binding == "memory"
    else:
        assert (found.layout, found.memory, found.fit) == chosen
