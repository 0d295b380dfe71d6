"""Scenario files: the declarative schema, loading and validation, and the schema's documentation."""

from perflaw.law.exports import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "perflaw.optimizer.scenario.schema": ("SECTIONS",),
    "perflaw.optimizer.scenario.loader": ("Scenario", "builtin_scenario_path", "load_scenario"),
    "perflaw.optimizer.scenario.docs": ("schema_markdown",),
})
