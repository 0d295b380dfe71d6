"""The published runs load into one convention, and their stated MFU is their throughput over the
catalog's peak: the catalog's peaks are the ones the sources divide by."""

from pathlib import Path

import numpy as np
import pytest

from perflaw.optimizer.cost.hardware import get_hardware
from perflaw.optimizer.cost.throughput_runs import load_throughput_runs, throughput_runs_path

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "throughput_runs.csv"


@pytest.mark.skipif(not SHARED.exists(), reason="the project's shared/ folder is not beside this checkout")
def test_the_shipped_copy_is_the_reference_table():
    assert throughput_runs_path().read_bytes() == SHARED.read_bytes()


def test_every_run_loads_into_one_convention():
    t = load_throughput_runs()
    assert len(t) == 142
    unmatched = t.loc[t["catalog"].isna(), "hardware"].fillna("").unique()
    assert all(h.startswith("GB300") or h == "" for h in unmatched), unmatched  # the catalog has no GB300
    unstated = t.loc[t["precision_kind"].isna(), "precision"].fillna("")
    assert all(p == "" or p.startswith("not stated (MFU") for p in unstated), unstated.unique()
    sized = t["total_b"].notna()
    assert (t.loc[sized, "total_b"] >= t.loc[sized, "active_b"]).all() and (t["active_b"].dropna() > 0).all()
    assert (t["global_batch_sequences"].dropna() > 0).all() and t["global_batch_sequences"].notna().sum() >= 135
    assert set(t["zero"].dropna()) <= {0.0, 2.0, 3.0} and set(t["recompute"].dropna()) <= {"none", "selective", "full"}
    total = t["tokens_per_s_scope"].eq("total")
    assert np.allclose(t.loc[total, "tokens_per_gpu_s"] * t.loc[total, "n_gpus"], t.loc[total, "tokens_per_s"])


def test_stated_mfu_is_model_throughput_over_the_catalogs_peak():
    t = load_throughput_runs()
    rows = t[t["mfu"].notna() & t["tflops_per_gpu"].notna() & t["catalog"].notna() & t["flops_kind"].eq("model")]
    assert len(rows) >= 50
    for _, r in rows.iterrows():
        hw = get_hardware(r["catalog"])
        peak = hw.peak_fp8_tflops if r["precision_kind"] == "fp8" else hw.peak_bf16_tflops  # unstated: BF16
        assert r["tflops_per_gpu"] / peak == pytest.approx(r["mfu"], rel=0.015), r["name"]
