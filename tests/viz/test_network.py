"""plot() and plot_history(): one curve per active edge, alphas, boxes, labels, input checks."""

import math

import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from kansci import KAN, History, edge_scores, fit
from kansci.datasets import from_function
from kansci.viz import plot, plot_history


def _inputs(n=200, n_var=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, n_var, generator=gen) * 2 - 1


def _by_gid(fig, kind, prefix):
    return {a.get_gid(): a for a in fig.findobj(kind) if (a.get_gid() or "").startswith(prefix)}


def _curves(fig):
    return _by_gid(fig, Line2D, "edge:")


def test_one_curve_and_one_line_per_edge():
    fig = plot(KAN([2, 5, 1], seed=0), _inputs())
    expected = {f"edge:0:{i}:{o}" for i in range(2) for o in range(5)} | {f"edge:1:{i}:0" for i in range(5)}
    assert set(_curves(fig)) == expected
    assert len(_by_gid(fig, Line2D, "link:")) == 15
    assert len(_by_gid(fig, Rectangle, "box:")) == 15


def test_masked_edges_are_skipped_unless_asked_for():
    model = KAN([2, 5, 1], seed=0)
    model.layers[0].mask[0, 1] = 0.0
    model.layers[1].mask[3, 0] = 0.0
    curves = _curves(plot(model, _inputs()))
    assert len(curves) == 13
    assert "edge:0:0:1" not in curves and "edge:1:3:0" not in curves
    assert len(_curves(plot(model, _inputs(), show_masked=True))) == 15


def test_symbolic_edge_is_labelled_and_coloured_differently():
    model = KAN([2, 5, 1], seed=0)
    model.layers[0].symbolic.set(0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    fig = plot(model, _inputs())
    labels = _by_gid(fig, Text, "label:")
    assert list(labels) == ["label:0:0:0"]
    assert labels["label:0:0:0"].get_text() == "sin"
    curves = _curves(fig)
    assert to_rgba(curves["edge:0:0:0"].get_color()) != to_rgba(curves["edge:0:1:0"].get_color())
    # the curve is sin over the inputs x_1 sees: normalised, it matches sin(sorted x_1)
    x = _inputs()
    expected = np.sin(np.sort(x[:, 0].double().numpy())[np.linspace(0, 199, 101).round().astype(int)])
    ys = curves["edge:0:0:0"].get_ydata()
    normalise = lambda v: (v - v.min()) / (v.max() - v.min())  # noqa: E731
    np.testing.assert_allclose(normalise(ys), normalise(expected), atol=1e-6)


@pytest.mark.parametrize("beta", [1.0, 3.0])
def test_alpha_is_tanh_of_beta_times_the_relative_edge_score(beta):
    model, x = KAN([2, 5, 1], seed=0), _inputs()
    curves = _curves(plot(model, x, beta=beta))
    for depth, scores in enumerate(edge_scores(model, x)):
        scores = scores.double().numpy()
        strongest = np.unravel_index(scores.argmax(), scores.shape)
        alpha = curves[f"edge:{depth}:{strongest[0]}:{strongest[1]}"].get_alpha()
        assert alpha == pytest.approx(math.tanh(beta), abs=1e-9)
        for (i, o), s in np.ndenumerate(scores):
            expected = max(math.tanh(beta * s / scores.max()), 0.05)
            assert curves[f"edge:{depth}:{i}:{o}"].get_alpha() == pytest.approx(expected, abs=1e-6)


def test_faint_edges_keep_the_minimum_alpha():
    curves = _curves(plot(KAN([2, 5, 1], seed=0), _inputs(), beta=0.01))  # tanh(0.01) < 0.05
    assert {c.get_alpha() for c in curves.values()} == {0.05}


@pytest.mark.parametrize("width", [[2, 5, 1], [3, 4, 2], [1, 1], [2, 3, 3, 1], [2, [1, 1], 1], [3, [2, 2], [1, 1]]])
def test_curves_lie_in_their_boxes_and_boxes_do_not_overlap(width):
    fig = plot(KAN(width, seed=0), _inputs(n_var=width[0]), samples=50)
    boxes = _by_gid(fig, Rectangle, "box:")
    for gid, curve in _curves(fig).items():
        box = boxes["box:" + gid.removeprefix("edge:")]
        xs, ys = curve.get_xdata(), curve.get_ydata()
        assert len(xs) == 50 and np.all(np.diff(xs) >= 0)  # sorted by input
        assert box.get_x() <= xs.min() and xs.max() <= box.get_x() + box.get_width()
        assert box.get_y() <= ys.min() and ys.max() <= box.get_y() + box.get_height()
    rects = [(b.get_x(), b.get_y(), b.get_width(), b.get_height()) for b in boxes.values()]
    for n, (x0, y0, w0, h0) in enumerate(rects):
        for x1, y1, w1, h1 in rects[n + 1 :]:
            assert x0 + w0 <= x1 or x1 + w1 <= x0 or y0 + h0 <= y1 or y1 + h1 <= y0


def test_multiplication_nodes_are_drawn_as_times_joined_to_their_subnodes():
    model = KAN([2, [1, 1], 1], seed=0)  # hidden row: sum node 0, product node 1 of subnodes 1 and 2
    model.layers[0].mask[1, 0] = 0.0
    fig = plot(model, _inputs())
    active = sum(int((layer.mask != 0).sum()) for layer in model.layers)
    assert active == 2 * 3 - 1 + 2 * 1
    assert len(_curves(fig)) == active
    assert "edge:0:0:2" in _curves(fig) and "edge:0:1:0" not in _curves(fig)  # layer 0 ends at its 3 subnodes
    assert set(_by_gid(fig, Line2D, "mult:")) == {"mult:1:0"}
    times = _by_gid(fig, Text, "times:")
    assert set(times) == {"times:1:0"} and times["times:1:0"].get_text() == "×"
    # the × sits on its node, centred over its two factor subnodes, each joined to it
    (mx,), (my,) = _by_gid(fig, Line2D, "mult:")["mult:1:0"].get_data()
    subnodes = _by_gid(fig, Line2D, "subnodes:")["subnodes:1"].get_xdata()
    assert times["times:1:0"].get_position() == (mx, my) and my == 1
    assert mx == pytest.approx((subnodes[1] + subnodes[2]) / 2)
    joins = _by_gid(fig, Line2D, "join:")
    assert set(joins) == {"join:1:0", "join:1:1", "join:1:2"}
    for s in (1, 2):
        assert joins[f"join:1:{s}"].get_xdata()[-1] == mx and joins[f"join:1:{s}"].get_ydata()[-1] == my
    # edges of layer 1 start at the nodes (the sum node and the product), not at the subnodes
    starts = sorted(_by_gid(fig, Line2D, "link:1:")[f"link:1:{i}:0"].get_xdata()[0] for i in range(2))
    assert starts == pytest.approx(sorted([subnodes[0], mx]))
    assert list(_by_gid(fig, Line2D, "nodes:1")["nodes:1"].get_xdata()) == [subnodes[0]]


def test_plain_kan_has_no_multiplication_artists():
    fig = plot(KAN([2, 5, 1], seed=0), _inputs())
    for prefix in ("mult:", "join:", "subnodes:"):
        assert not _by_gid(fig, Line2D, prefix)
    assert not _by_gid(fig, Text, "times:")
    assert set(_by_gid(fig, Line2D, "nodes:")) == {"nodes:0", "nodes:1", "nodes:2"}


def test_names_and_pruned_input_ids():
    fig = plot(KAN([2, 5, 1], seed=0, input_ids=(2, 5)), _inputs())
    assert [t.get_text() for t in _by_gid(fig, Text, "in:").values()] == ["$x_{3}$", "$x_{6}$"]
    assert [t.get_text() for t in _by_gid(fig, Text, "out:").values()] == ["$y_{1}$"]
    fig = plot(KAN([2, 5, 1], seed=0), _inputs(), in_names=["a", "b"], out_names=["f"])
    assert [t.get_text() for t in _by_gid(fig, Text, "in:").values()] == ["a", "b"]
    assert [t.get_text() for t in _by_gid(fig, Text, "out:").values()] == ["f"]


def test_figure_size_grows_with_width_and_depth_and_ax_is_used():
    small = plot(KAN([2, 5, 1], seed=0), _inputs()).get_size_inches()
    large = plot(KAN([2, 8, 8, 1], seed=0), _inputs()).get_size_inches()
    assert large[0] > small[0] and large[1] > small[1]
    np.testing.assert_allclose(plot(KAN([2, 5, 1], seed=0), _inputs(), scale=2.0).get_size_inches(), 2 * small)
    fig = Figure()
    ax = fig.subplots()
    assert plot(KAN([2, 5, 1], seed=0), _inputs(), ax=ax) is fig
    assert len(_curves(fig)) == 15 and not ax.axison


def test_bad_arguments_raise_clear_errors():
    model = KAN([2, 5, 1], seed=0)
    with pytest.raises(ValueError, match=r"expects \(batch, 2\)"):
        plot(model, _inputs(n_var=3))
    with pytest.raises(ValueError, match="no rows"):
        plot(model, torch.zeros(0, 2))
    with pytest.raises(TypeError, match="kansci.KAN"):
        plot(torch.nn.Linear(2, 1), _inputs())
    with pytest.raises(ValueError, match="in_names has 3 names but the model has 2 inputs"):
        plot(model, _inputs(), in_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="out_names"):
        plot(model, _inputs(), out_names=[])
    with pytest.raises(ValueError, match="samples"):
        plot(model, _inputs(), samples=1)


def _trained_history(**kwargs):
    f = lambda x: torch.exp(torch.sin(torch.pi * x[:, 0]) + x[:, 1] ** 2)  # noqa: E731
    data = from_function(f, 2, n_train=100, n_test=100, seed=0, dtype=torch.float64)
    model = KAN([2, 3, 1], seed=0, dtype=torch.float64)
    return fit(model, data, steps=3, opt="adam", progress=False, **kwargs)


def _history_lines(fig):
    return _by_gid(fig, Line2D, "history:")


def test_plot_history_draws_one_line_per_series():
    history = _trained_history()
    lines = _history_lines(plot_history(history))
    # the regularization is all zero without lamb: nothing to show on a log axis
    assert set(lines) == {"history:loss", "history:train RMSE", "history:test RMSE"}
    np.testing.assert_array_equal(lines["history:loss"].get_xdata(), [0, 1, 2])
    np.testing.assert_array_equal(lines["history:test RMSE"].get_ydata(), history.test_rmse)
    assert len(_history_lines(plot_history(history, logy=False))) == 4
    assert len(_history_lines(plot_history(_trained_history(lamb=1e-3)))) == 4
    fig = plot_history(history)
    assert fig.axes[0].get_yscale() == "log"
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["loss", "train RMSE", "test RMSE"]


def test_plot_history_rejects_an_empty_history():
    with pytest.raises(ValueError, match="no recorded steps"):
        plot_history(History())
    with pytest.raises(TypeError, match="kansci.History"):
        plot_history({"loss": [1.0]})
