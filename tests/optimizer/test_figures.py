"""The report's figures, placed without a layout engine (report.placing), keep every text they draw
inside the canvas, their title clear of the plot, and the colorbar beside the plot, not over it."""

import warnings
from pathlib import Path

import pytest

import perflaw.optimizer.report.writer as writer
from perflaw.optimizer.cli.run_commands import run_payload
from perflaw.optimizer.report import figures

ROOT = Path(__file__).resolve().parents[2]
# single budget; a review with prices (a dollar axis on top, budget labels); MoE (one plan, labelled,
# at the right end of its plot); a small budget (tick labels such as 0.05 on the token axis)
SCENARIOS = ["7b-512xh100-30d", "review-2048xh100-lean-base-stretch", "moe-2048xh800"]
SMALL = """name = "small"
description = "A 1e20 FLOPs budget: tokens under a tenth of a trillion (below the law's data)."

[budget]
flops = 1e20

[search]
trust = "law"
"""


def _jobs(paths, tmp_path, monkeypatch) -> list:
    sent = []

    def keep(jobs, folder, processes=None):
        sent.extend(jobs)
        return {stem: b"" for stem, _, _ in jobs}

    monkeypatch.setattr(writer, "save_all", keep)
    for k, path in enumerate(paths):
        run_payload([str(path)], str(tmp_path / f"r{k}"))
    return sent


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("figures")
    small = tmp / "small.toml"
    small.write_text(SMALL, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        jobs = _jobs([ROOT / "scenarios" / f"{s}.toml" for s in SCENARIOS] + [small], tmp, mp)
    out = []
    for stem, draw, args in jobs:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            fig = getattr(figures, draw)(*args)
            fig.canvas.draw()
        out.append((stem, fig, [str(w.message) for w in said]))
    assert len(out) == 3 * (len(SCENARIOS) + 1)
    return out


def test_no_figure_warns(drawn):
    """A warning would reach the user's terminal: the small budget's one-point front once did
    (identical limits on a log axis)."""
    assert [(stem, said) for stem, _, said in drawn if said] == []


def test_every_text_a_figure_draws_is_inside_its_canvas(drawn):
    for stem, fig, _ in drawn:
        renderer = fig.canvas.get_renderer()
        box = fig.get_tightbbox(renderer)  # inches: every artist drawn, texts included
        width, height = fig.get_size_inches()
        slack = 1 / fig.dpi
        assert box.x0 >= -slack and box.y0 >= -slack and box.x1 <= width + slack and box.y1 <= height + slack, \
            (stem, box.bounds, (width, height))


def test_the_title_overlaps_no_plot_and_no_label(drawn):
    for stem, fig, _ in drawn:
        renderer = fig.canvas.get_renderer()
        [title] = [t for t in fig.texts if t.get_text() == fig.get_suptitle() != ""]
        line = title.get_window_extent(renderer)
        for ax in fig.axes:
            box = ax.get_tightbbox(renderer)
            assert not line.overlaps(box), (stem, line.bounds, box.bounds)


def test_the_colorbar_and_its_labels_sit_right_of_the_plot(drawn):
    for stem, fig, _ in drawn:
        if stem != "landscape":
            continue
        renderer = fig.canvas.get_renderer()
        plot, bar = fig.axes
        assert plot.get_tightbbox(renderer).x1 < bar.get_window_extent(renderer).x0, stem
        assert plot.get_position().y0 == bar.get_position().y0 and plot.get_position().y1 == bar.get_position().y1


def test_a_label_at_the_plots_right_end_goes_left_of_its_point(drawn):
    """The MoE scenario's one plan sits at the right end of its allocation plot: its label goes left."""
    labelled = [fig for stem, fig, _ in drawn if stem == "allocation" and fig.axes[0].texts]
    assert labelled
    for fig in labelled:
        ax = fig.axes[0]
        renderer = fig.canvas.get_renderer()
        plot = ax.get_window_extent(renderer)
        for text in ax.texts:
            box = text.get_window_extent(renderer)
            assert plot.x0 <= box.x0 and box.x1 <= plot.x1, (text.get_text(), box.bounds, plot.bounds)


def test_no_two_point_labels_overlap(drawn):
    """A budget's label and a published model's (the review's "base" and "Llama 3.1 70B" once were)
    do not cover each other; nor do two models' labels."""
    for stem, fig, _ in drawn:
        renderer = fig.canvas.get_renderer()
        boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in fig.axes[0].texts]
        for i, (a, box) in enumerate(boxes):
            for b, other in boxes[i + 1:]:
                assert not box.overlaps(other), (stem, a, b)
