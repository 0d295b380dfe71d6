"""perflaw's optimizer layer: what a run costs and which run to choose, and the command line."""

from optimizer.quantities import format_quantity, parse_quantity, parse_range

__all__ = ["format_quantity", "parse_quantity", "parse_range"]
