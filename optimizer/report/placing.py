"""Place a report figure's axes from its tick and axis labels alone, in place of a layout engine.

A constrained layout measured every artist of a figure, twice, before it was drawn: 28 % of the
drawing time. A report figure has one plot, a title, at most a secondary x axis on top and a
colorbar on the right, and every other text (legend, point labels) sits inside the plot. So the
margins follow from a few measurements: each side's tick labels (their widest or tallest), its axis
label and the tick sizes, plus a fixed edge. On the right the plot leaves half its widest x tick
label, for a tick at its very end. Both formats are saved with the same placement.
"""

from __future__ import annotations

from matplotlib import rcParams

EDGE = 3 / 72  # inches between the outermost text and the figure's edge (a constrained layout's pad)
COLORBAR = (0.28, 0.19)  # inches: the gap between the plot and its colorbar, and the colorbar's width


def _labels(axis, renderer) -> list:
    """The window extents of ``axis``'s major tick labels inside its view limits."""
    lo, hi = sorted(axis.get_view_interval())
    slack = 1e-9 * (abs(lo) + abs(hi))
    texts = axis.get_majorticklabels()  # updates the ticks for the current limits
    locs = {id(t): tick.get_loc() for tick in axis.get_major_ticks() for t in (tick.label1, tick.label2)}
    return [t.get_window_extent(renderer) for t in texts
            if t.get_text() and lo - slack <= locs.get(id(t), lo) <= hi + slack]


def _depth(axis, renderer, across: str) -> float:
    """Inches from the plot's edge to the far side of ``axis``'s axis label (``across``: the extent
    that counts, "width" for a vertical axis, "height" for a horizontal one)."""
    name = "ytick" if axis.axis_name == "y" else "xtick"
    points = rcParams[f"{name}.major.size"] + rcParams[f"{name}.major.pad"]
    ticks = max((getattr(b, across) for b in _labels(axis, renderer)), default=0.0)
    depth = points / 72 + ticks / renderer.dpi
    if axis.label.get_text():
        depth += axis.labelpad / 72 + getattr(axis.label.get_window_extent(renderer), across) / renderer.dpi
    return depth


def _overhang(axes, renderer, name: str) -> float:
    """Inches a tick label at an axis's end reaches past it: half the widest x tick label (``name``
    "x") or the tallest y tick label ("y") of the ``axes``."""
    sizes = [b.width if name == "x" else b.height for a in axes for b in _labels(getattr(a, f"{name}axis"), renderer)]
    return max(sizes, default=0.0) / 2 / renderer.dpi


def place(fig, ax, *, title=None, top_axis=None, colorbar=None) -> None:
    """Size and place ``ax`` (with its secondary ``top_axis`` and its colorbar's axes ``colorbar``,
    when there are) so that the figure's ``title`` (its suptitle's text), labels and tick labels fit
    inside ``fig``. Call it once the figure is complete: the tick labels measured are those it draws."""
    renderer = fig.canvas.get_renderer()
    width, height = fig.get_size_inches()
    top = EDGE
    if title is not None:
        title.set_y(1 - EDGE / height)
        title.set_verticalalignment("top")
        top += title.get_window_extent(renderer).height / renderer.dpi + EDGE
    bottom = EDGE + _depth(ax.xaxis, renderer, "height")
    upright = [ax] + ([colorbar] if colorbar is not None else [])

    def span(tall: float) -> None:  # the plot's (and colorbar's) height; x is placed below
        for a, x, w in zip(upright, (0.1, 0.9), (0.85, COLORBAR[1] / width)):
            a.set_position([x, bottom / height, w, tall / height])

    span(height - top - bottom)  # first, for the texts above the plot
    top += _depth(top_axis.xaxis, renderer, "height") if top_axis is not None \
        else _overhang(upright, renderer, "y")  # else a y tick label at the plot's top reaches above it
    tall = height - top - bottom
    span(tall)  # the y ticks, measured next, follow the height
    left = EDGE + _depth(ax.yaxis, renderer, "width")
    if colorbar is None:
        right = EDGE + _overhang([ax] + ([top_axis] if top_axis is not None else []), renderer, "x")
    else:
        side = EDGE + _depth(colorbar.yaxis, renderer, "width")
        colorbar.set_position([1 - (side + COLORBAR[1]) / width, bottom / height, COLORBAR[1] / width,
                               tall / height])
        right = side + sum(COLORBAR)
    ax.set_position([left / width, bottom / height, (width - left - right) / width, tall / height])
    if colorbar is None:  # the x ticks follow the plot's width: measured again at the width it now has
        again = EDGE + _overhang([ax] + ([top_axis] if top_axis is not None else []), renderer, "x")
        if again != right:
            ax.set_position([left / width, bottom / height, (width - left - again) / width, tall / height])
