"""Peak memory of `perflaw optimize` and `perflaw run` on the largest lattices perflaw accepts.

Each command runs in its own process, which reports its own peak resident set size (ru_maxrss) as
it exits. Usage: python benchmarks/bench_memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from perflaw.optimizer.search.space import MAX_CANDIDATES, SearchSpace

# The probe: run perflaw's CLI in this process, then print the peak RSS (kB on Linux) on stderr.
PROBE = ("import resource, runpy, sys\n"
         "sys.argv = ['perflaw'] + sys.argv[1:]\n"
         "try:\n    runpy.run_module('perflaw', run_name='__main__')\n"
         "finally:\n    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")

# Two lattices just under the limit: dense (every head count, four KV choices, FFN 1x to 8x) and MoE.
DENSE = dict(heads_step=1, kv_heads=(1, 2, 4, 8), ffn_ratio=(1.0, 8.0), ffn_ratio_step=0.125)
MOE = dict(heads_step=2, kv_heads=(4, 8), ffn_ratio=(3.0, 3.0), experts=(64, 128, 256), active_experts=(4, 6, 8),
           shared_experts=(0, 1, 2), expert_ffn=(1024, 1536, 2048, 2560))


def largest_layers(kw: dict) -> tuple[int, int]:
    """The widest layer range from 8 up whose lattice (the space ``kw`` otherwise) stays within the limit."""
    per_layer = SearchSpace(layers=(8, 8), **kw).candidate_count()
    return 8, min(4096, 8 + MAX_CANDIDATES // per_layer - 1)


def _toml(name: str, kw: dict, layers: tuple[int, int]) -> str:
    def v(x):
        return "[" + ", ".join(map(str, x)) + "]" if isinstance(x, tuple) else str(x)
    space = "\n".join(f"{k} = {v(x)}" for k, x in kw.items())
    return (f'name = "{name}"\ndescription = "memory probe"\n[budget]\ndays = 30\n[hardware]\nname = "H100-SXM"\n'
            f'gpus = 2048\n[space]\n{space}\n[constraints]\nlayers = [{layers[0]}, {layers[1]}]\n'
            f'params_b = [1.0, 400.0]\n[report]\nfronts = ["budget", "inference"]\n')


def _peak(argv: list[str], cwd: str) -> tuple[float, str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, cwd=cwd, timeout=1800)
    peak = [line.split()[1] for line in done.stderr.splitlines() if line.startswith("PEAK_KB")]
    status = "ok" if done.returncode == 0 else f"exit {done.returncode}: {done.stderr.strip().splitlines()[0]}"
    return (int(peak[-1]) / 1e6 if peak else float("nan")), status


def main() -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, kw in (("dense", DENSE), ("moe", MOE)):
            layers = largest_layers(kw)
            count = SearchSpace(layers=layers, **kw).candidate_count()
            path = Path(tmp) / f"{kind}.toml"
            path.write_text(_toml(kind, kw, layers))
            flags = ["--layers", f"{layers[0]}:{layers[1]}", "--heads-step", str(kw["heads_step"]),
                     "--kv-heads", ",".join(map(str, kw["kv_heads"])), "--ffn-ratio", "{}:{}".format(*kw["ffn_ratio"])]
            if "experts" in kw:
                flags += [f"--{k.replace('_', '-')}={','.join(map(str, kw[k]))}"
                          for k in ("experts", "active_experts", "shared_experts", "expert_ffn")]
            for command, argv in (("optimize", ["optimize", "--days", "30", "--hardware", "H100-SXM", "--gpus", "2048",
                                                "--params", "1B:400B", *flags, "--json"]),
                                  ("run", ["run", str(path), "--out", str(Path(tmp) / f"{kind}-report")])):
                gb, status = _peak(argv, tmp)
                rows.append({"case": f"{command} {kind}", "candidates": count, "peak_gb": gb, "status": status})
    return rows


if __name__ == "__main__":
    for r in main():
        print(f"{r['case']:<16} {r['candidates']:>10,} candidates  peak {r['peak_gb']:.2f} GB  {r['status']}")
