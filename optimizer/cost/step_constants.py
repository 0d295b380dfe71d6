"""The step-time model's constants: each named, with where its value comes from (fitted or a source).

The fitted ones come from ``throughput_check.fit_constants`` on the fitting half of the published
runs (``throughput_check.FIT_ROWS``); ``tests/optimizer/test_throughput_check.py`` fits again and
checks that these values reproduce that fit. The others are taken from the sources named beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class StepConstants:
    """Efficiencies and overheads of the step-time model (fractions of a datasheet peak, seconds)."""

    # Fitted on the published runs (throughput_check.fit_constants).
    gemm_bf16: float = 0.6972  # share of the BF16 dense peak a large matmul reaches
    gemm_fp8: float = 0.6986  # share of the FP8 dense peak a large matmul reaches
    matmul_overhead_s: float = 28.79e-6  # fixed time per matmul: launch, fill, last wave, small kernels beside it
    attention: float = 0.1779  # share of the BF16 peak FlashAttention reaches (causal, both passes)
    tp_hidden: float = 0.8465  # share of tensor-parallel communication hidden behind matmuls when overlapped
    unfused_traffic: float = 2.235  # HBM traffic of eager (unfused) norms, activations and residuals, × the fused
    # Taken from sources.
    hbm: float = 0.8  # share of HBM bandwidth memory-bound kernels reach (assumed, as STREAM-like copies)
    scaleup: float = 0.65  # NVLink ring efficiency (Calculon systems/*.json, "efficiency": 0.65)
    scaleout: float = 0.9  # network ring efficiency (Calculon systems/*.json inter-node "efficiency": 0.9)

    FITTED = ("gemm_bf16", "gemm_fp8", "matmul_overhead_s", "attention", "tp_hidden",
              "unfused_traffic")

    def with_values(self, **values: float) -> "StepConstants":
        return replace(self, **values)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


DEFAULT_CONSTANTS = StepConstants()
#: Hardware families of the published runs the constants were fitted on (cost.hardware.Hardware.family).
FITTED_FAMILIES = ("ampere", "hopper", "blackwell")
