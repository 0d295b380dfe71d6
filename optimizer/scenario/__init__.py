"""Scenario files: the declarative schema, loading and validation, and the schema's documentation."""

from perflaw.law.exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, {
    "perflaw.optimizer.scenario.loader": ("SECTIONS", "Scenario", "load_scenario", "schema_markdown"),
})
