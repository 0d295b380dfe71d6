"""perflaw's law layer: what a model is (architecture, parameters, FLOPs) and what it scores.

Never imports from ``optimizer``. Names are re-exported lazily (PEP 562) so that importing one
light module (``law.errors``) does not load scipy and pandas.
"""

from importlib import import_module

_EXPORTS = {
    "law.architecture": ("Architecture", "ParamBreakdown"),
    "law.baselines": ("CHINCHILLA", "CHINCHILLA_UNROUNDED", "EPOCH", "LOSS_LAWS", "ComputeOptimal", "LossLaw",
                      "compute_optimal", "get_loss_law", "loss", "optimal_line"),
    "law.coefficients": ("DEFAULT_MOE_VARIANT", "MOE_VARIANTS", "PAPER", "Interval", "LawCoefficients",
                         "load_coefficients", "save_coefficients"),
    "law.errors": ("InputError",),
    "law.fit": ("CrossValidation", "FitResult", "calibrate_interval", "compare_moe_variants", "fit_law",
                "leave_one_out", "predict_inputs"),
    "law.hf_config": ("SUPPORTED_MODEL_TYPES", "from_hf_config", "load_hf_config"),
    "law.moe": ("law_size_b", "moe_law_terms"),
    "law.performance": ("LawTerms", "bound_mmlu", "law_terms", "planner_params_b", "predict_mmlu"),
    "law.predict": ("Prediction", "interval_for", "predict_architecture"),
    "law.zoo": ("LawInputs", "law_inputs", "load_zoo", "zoo_path"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'law' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
