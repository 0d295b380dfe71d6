"""perflaw's law layer: what a model is (architecture, parameters, FLOPs) and what it scores.

Never imports from ``optimizer``.
"""

from law.architecture import Architecture, ParamBreakdown
from law.coefficients import (DEFAULT_MOE_VARIANT, MOE_VARIANTS, PAPER, Interval, LawCoefficients,
                              load_coefficients, save_coefficients)
from law.errors import InputError
from law.fit import (CrossValidation, FitResult, calibrate_interval, compare_moe_variants, fit_law,
                     leave_one_out, predict_inputs)
from law.hf_config import SUPPORTED_MODEL_TYPES, from_hf_config, load_hf_config
from law.moe import law_size_b, moe_law_terms
from law.performance import LawTerms, bound_mmlu, law_terms, planner_params_b, predict_mmlu
from law.predict import Prediction, interval_for, predict_architecture
from law.zoo import LawInputs, law_inputs, load_zoo, zoo_path

__all__ = [
    "Architecture", "ParamBreakdown", "DEFAULT_MOE_VARIANT", "MOE_VARIANTS", "PAPER", "Interval",
    "LawCoefficients", "load_coefficients", "save_coefficients", "InputError", "CrossValidation", "FitResult",
    "calibrate_interval", "compare_moe_variants", "fit_law", "leave_one_out", "predict_inputs",
    "SUPPORTED_MODEL_TYPES", "from_hf_config", "load_hf_config", "law_size_b", "moe_law_terms", "LawTerms",
    "bound_mmlu", "law_terms", "planner_params_b", "predict_mmlu", "Prediction", "interval_for",
    "predict_architecture", "LawInputs", "law_inputs", "load_zoo", "zoo_path",
]
