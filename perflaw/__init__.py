"""perflaw: plan LLM pretraining runs with the Performance Law (Wu & Tang, arXiv 2408.09895).

The front door. Names load lazily, so ``import perflaw`` is cheap.
"""

from perflaw.law.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "perflaw.law.architecture": ("Architecture",),
    "perflaw.law.coefficients": ("PAPER", "LawCoefficients", "load_coefficients"),
    "perflaw.law.errors": ("InputError",),
    "perflaw.law.predict": ("Prediction",),
    "perflaw.optimizer.cost.hardware": ("Hardware", "get_hardware"),
    "perflaw.optimizer.cost.budget": ("Budget",),
})
