"""perflaw's law layer: what a model is (architecture, parameters, FLOPs) and what it scores.

Installed as ``perflaw.law``; never imports from ``perflaw.optimizer``. Names are re-exported lazily
(PEP 562) so that importing one light module (``perflaw.law.errors``) does not load scipy and pandas.
"""

from perflaw.law.exports import lazy_exports

_EXPORTS = {
    "perflaw.law.architecture": ("Architecture", "ParamBreakdown"),
    "perflaw.law.baselines": ("CHINCHILLA", "CHINCHILLA_UNROUNDED", "EPOCH", "LOSS_LAWS", "ComputeOptimal", "LossLaw",
                      "compute_optimal", "get_loss_law", "loss", "optimal_line"),
    "perflaw.law.coefficients": ("DEFAULT_MOE_VARIANT", "MOE_VARIANTS", "PAPER", "Interval", "LawCoefficients",
                         "load_coefficients", "save_coefficients"),
    "perflaw.law.errors": ("InputError",),
    "perflaw.law.fit": ("CrossValidation", "FitResult", "calibrate_interval", "compare_moe_variants", "fit_law",
                "leave_one_out"),
    "perflaw.law.forecast": ("Forecast", "ForecastWindow", "forward_chaining"),
    "perflaw.law.hf_config": ("SUPPORTED_MODEL_TYPES", "from_hf_config", "load_hf_config"),
    "perflaw.law.moe": ("law_size_b", "moe_law_terms"),
    "perflaw.law.performance": ("LawTerms", "bound_mmlu", "law_terms", "planner_params_b", "predict_mmlu"),
    "perflaw.law.predict": ("Prediction", "expected_error", "interval_for", "predict_architecture", "predict_inputs"),
    "perflaw.law.zoo": ("LawInputs", "law_inputs", "load_zoo", "zoo_path"),
}
__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS)
