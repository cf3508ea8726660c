"""What every figure uses (a pyplot-free Figure, axis styling, small palette PNGs) and notebook
02's forward-noising figure.

Figures are built with :class:`matplotlib.figure.Figure` directly, never through ``pyplot``, so
nothing is registered in pyplot's global figure list (no leaks, no double display in Jupyter:
a notebook shows a returned Figure once). Sizes and dpi are modest so the PNGs embedded in
committed notebooks stay small.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DEFAULT_DPI = 90


def new_figure(width: float, height: float, dpi: int = DEFAULT_DPI) -> Figure:
    """A Figure with an Agg canvas attached (renderable to PNG without pyplot)."""
    fig = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def style_axes(
    ax, xlabel: str = "", ylabel: str = "", title: str = "", grid: bool = False,
    legend: dict | None = None, title_size: float | None = None,
) -> None:  # fmt: skip
    """Axis labels, title, a light grid and a legend (``legend``: its keyword arguments): what
    nearly every figure here sets on each of its axes."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    if grid:
        ax.grid(alpha=0.3)
    if legend is not None:
        ax.legend(**legend)


def figure_png(fig: Figure, dpi: int | None = None, tight: bool = True) -> bytes:
    """The figure as a small PNG: rendered with Agg, then reduced to a 256-colour palette.

    Plots need few colours; the palette PNG is 2-3 times smaller than the RGBA one (this is what
    keeps the committed notebooks small). ``tight`` crops empty margins like Jupyter does.
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi or fig.dpi, bbox_inches="tight" if tight else None)
    buf.seek(0)
    from PIL import Image

    with Image.open(buf) as im:
        return rgb_to_png(np.asarray(im.convert("RGB")))


def rgb_to_png(rgb: np.ndarray) -> bytes:
    """Encode an RGB(A) pixel array as a palette PNG (fast octree quantisation, ~10 ms)."""
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]))
    out = io.BytesIO()
    img.quantize(256, method=Image.Quantize.FASTOCTREE).save(out, format="png", compress_level=6)
    return out.getvalue()


# ========================================================================= 02: forward noising
@dataclass
class NoisingView:
    """What the forward-noising figure draws; made by ``widgets.forward_noising_state``."""

    beta: float
    T: int
    alpha_bar: np.ndarray  # [T]
    snr: np.ndarray  # [T]
    strip_chain: np.ndarray  # [T + 1, W]: x then z_1..z_T by iterating eq (5), window of items
    strip_closed: np.ndarray  # [T + 1, W]: x then one-shot draws from q(z_t | x)
    hist_edges: np.ndarray  # [B + 1]
    hist_sampled: np.ndarray  # [B] density of z_T (all D items) from the chain
    hist_closed: np.ndarray  # [B] density of q(z_T | x) averaged over items, per bin
    signal_sampled: np.ndarray  # [T] sampled estimate of sqrt(alpha_bar_t)
    noise_sampled: np.ndarray  # [T] sampled estimate of sqrt(1 - alpha_bar_t)
    reference_alpha_bar: np.ndarray  # [T_ref] the paper's setting, for comparison
    reference_snr: np.ndarray


class ForwardNoisingFigure:
    """One reusable figure for the forward process; :meth:`update` moves its artists.

    Top: two heat-map strips of x, z_1..z_T over a window of items, one by iterating eq (5)
    and one drawn in a single step from the closed form q(z_t | x). Bottom: alpha_bar_t, the
    signal-to-noise ratio per step, and the distribution of z_T against N(0, I).

    Why it is fast enough for a slider: every axis limit is fixed (steps on a log axis 1..50,
    the strips stretched to their axes whatever T is), so axes, ticks, labels and legends never
    change. With ``animated=True`` they are drawn once into a background; :meth:`png` restores
    it and draws only the data artists (blitting), then encodes the pixels. Text layout, which
    dominates a full matplotlib draw, happens once. ``animated=False`` gives an ordinary figure
    for static display.
    """

    SNR_LIMITS = (1e-8, 1e8)
    STEP_LIMITS = (0.8, 62.0)
    MAX_ROW_LABELS = 7
    STEP_TICKS = (1, 2, 3, 5, 10, 20, 50)

    def __init__(self, view: NoisingView, dpi: int = 80, animated: bool = True) -> None:
        self.fig = new_figure(10.0, 6.0, dpi)
        self.animated = animated
        gs = self.fig.add_gridspec(2, 3, height_ratios=[1.0, 1.0])
        self.ax_chain = self.fig.add_subplot(gs[0, :2])
        self.ax_closed = self.fig.add_subplot(gs[0, 2])
        self.ax_ab = self.fig.add_subplot(gs[1, 0])
        self.ax_snr = self.fig.add_subplot(gs[1, 1])
        self.ax_hist = self.fig.add_subplot(gs[1, 2])
        self._background = None
        self._build(view)
        for artist in self.dynamic_artists():
            artist.set_animated(animated)
        self.update(view)

    # ------------------------------------------------------------------------------- build
    def _build(self, v: NoisingView) -> None:
        kw = {
            "cmap": "RdBu_r",
            "vmin": -2.5,
            "vmax": 2.5,
            "aspect": "auto",
            "interpolation": "nearest",
            "extent": (0.0, 1.0, 1.0, 0.0),
        }
        self.im_chain = self.ax_chain.imshow(v.strip_chain, **kw)
        self.im_closed = self.ax_closed.imshow(v.strip_closed, **kw)
        self.row_labels = []  # x, z_1, ..., z_T beside the strips: dynamic, outside the layout
        for ax in (self.ax_chain, self.ax_closed):
            ax.set_xlim(0.0, 1.0)
            ax.set_ylim(1.0, 0.0)
            ax.set_xticks([])
            ax.set_yticks([])
            for _ in range(self.MAX_ROW_LABELS):
                text = ax.text(-0.01, 0.5, "", transform=ax.transAxes, ha="right", va="center")
                text.set_fontsize(7)
                text.set_in_layout(False)
                self.row_labels.append(text)
        style_axes(self.ax_chain, "items (a window: half clicked by the user, half not)",
                   title="iterating eq (5): rows x, z_1, ..., z_T (top to bottom)")  # fmt: skip
        style_axes(self.ax_closed, "the same items",
                   title="closed form: one draw of q(z_t | x) per row")  # fmt: skip
        self.fig.colorbar(self.im_closed, ax=self.ax_closed, fraction=0.08, pad=0.02)

        self.ln_ab, self.ln_sig = self._curves(self.ax_ab, v.reference_alpha_bar, "sampled (chain)")
        self.ax_ab.set_ylim(-0.03, 1.05)
        ref_snr = np.clip(v.reference_snr, *self.SNR_LIMITS)
        self.ln_snr, self.ln_snr_s = self._curves(self.ax_snr, ref_snr, "sampled")
        self.ax_snr.axhline(1.0, color="#555555", linewidth=0.8, linestyle=":")
        self.ax_snr.set_yscale("log")
        self.ax_snr.set_ylim(*self.SNR_LIMITS)
        _plain_log_ticks(self.ax_snr.yaxis, [1e-8, 1e-4, 1, 1e4, 1e8])
        for ax, title in (
            (self.ax_ab, "signal kept: alpha_bar_t"),
            (self.ax_snr, "SNR_t = alpha_bar_t / (1 - alpha_bar_t)"),
        ):
            ax.set_xscale("log")
            ax.set_xlim(*self.STEP_LIMITS)
            _plain_log_ticks(ax.xaxis, self.STEP_TICKS, fmt="{:.0f}")
            style_axes(ax, "step t", title=title, legend={"fontsize": 7, "loc": "lower left"})

        edges = v.hist_edges
        self.st_sampled = self.ax_hist.stairs(
            v.hist_sampled, edges, fill=True, color="#9ecae1", label="z_T sampled (chain)"
        )
        self.st_closed = self.ax_hist.stairs(
            v.hist_closed, edges, color="#4c72b0", linewidth=1.5, label="q(z_T | x) closed form"
        )
        grid = np.linspace(edges[0], edges[-1], 200)
        normal = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
        self.ax_hist.plot(grid, normal, "--", color="#c44e52", label="N(0, 1)")
        self.ax_hist.set_yscale("log")
        self.ax_hist.set_ylim(1e-3, 50.0)
        self.ax_hist.set_xlim(edges[0], edges[-1])
        _plain_log_ticks(self.ax_hist.yaxis, [1e-3, 1e-2, 1e-1, 1, 10])
        style_axes(self.ax_hist, "value of one coordinate of z_T", title="z_T over all items vs N(0, I)",
                   legend={"fontsize": 7, "loc": "upper left"})  # fmt: skip
        self.suptitle = self.fig.suptitle(" ", fontsize=11)

    @staticmethod
    def _curves(ax, reference: np.ndarray, sampled_label: str) -> tuple:
        """The paper's curve (fixed) and two empty lines, closed form and sampled, for update."""
        t_ref = np.arange(1, len(reference) + 1)
        ax.plot(t_ref, reference, "s--", color="#999999", markersize=4, label="paper")
        (closed,) = ax.plot([], [], "o-", color="#4c72b0", markersize=3, label="closed form")
        (sampled,) = ax.plot([], [], "x", color="#c44e52", markersize=5, label=sampled_label)
        return closed, sampled

    def _label_rows(self, T: int) -> None:
        """Row labels x, z_1, ..., z_T on both strips (every row up to T = 6, then a few)."""
        rows = list(range(T + 1)) if T <= 6 else [0, 1, 2, T // 2, T - 1, T]
        per_axis = self.MAX_ROW_LABELS
        for ax_labels in (self.row_labels[:per_axis], self.row_labels[per_axis:]):
            for i, text in enumerate(ax_labels):
                if i < len(rows):
                    r = rows[i]
                    text.set_text("x" if r == 0 else f"z_{r}")
                    text.set_y(1.0 - (r + 0.5) / (T + 1))
                else:
                    text.set_text("")

    def dynamic_artists(self) -> list:
        """The artists an update changes (everything else is static background)."""
        return [
            self.im_chain,
            self.im_closed,
            self.ln_ab,
            self.ln_sig,
            self.ln_snr,
            self.ln_snr_s,
            self.st_sampled,
            self.st_closed,
            self.suptitle,
            *self.row_labels,
        ]

    # ------------------------------------------------------------------------------ update
    def update(self, v: NoisingView) -> None:
        """Point every dynamic artist at the new data (the canvas is not drawn here)."""
        self.im_chain.set_data(v.strip_chain)
        self.im_closed.set_data(v.strip_closed)
        self._label_rows(v.T)
        t = np.arange(1, v.T + 1)
        self.ln_ab.set_data(t, v.alpha_bar)
        self.ln_sig.set_data(t, v.signal_sampled**2)
        self.ln_snr.set_data(t, np.clip(v.snr, *self.SNR_LIMITS))
        sig2, noi2 = v.signal_sampled**2, np.maximum(v.noise_sampled**2, 1e-300)
        self.ln_snr_s.set_data(t, np.clip(sig2 / noi2, *self.SNR_LIMITS))
        self.st_sampled.set_data(np.maximum(v.hist_sampled, 1e-12), v.hist_edges)
        self.st_closed.set_data(np.maximum(v.hist_closed, 1e-12), v.hist_edges)
        self.suptitle.set_text(
            f"forward process: beta = {v.beta:.3g}, T = {v.T}, alpha_bar_T = {v.alpha_bar[-1]:.4g}"
        )

    def png(self) -> bytes:
        """The current state as PNG bytes (blitted onto the cached background when animated)."""
        if not self.animated:
            return figure_png(self.fig, tight=False)
        canvas = self.fig.canvas
        if self._background is None:
            canvas.draw()  # lays out and draws the static parts (animated artists are skipped)
            self._background = canvas.copy_from_bbox(self.fig.bbox)
        canvas.restore_region(self._background)
        for artist in self.dynamic_artists():
            self.fig.draw_artist(artist)
        return rgb_to_png(np.asarray(canvas.buffer_rgba()))


def _plain_log_ticks(axis, ticks: Sequence[float], fmt: str | None = None) -> None:
    """Fixed major ticks with short plain labels ("1e-4", "20"), no minor tick labels.

    Mathtext tick labels are the slowest part of drawing a log axis.
    """
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    def label(v: float) -> str:
        if fmt is not None:
            return fmt.format(v)
        return f"{v:g}" if 1e-2 <= v <= 1e3 else f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")

    axis.set_major_locator(FixedLocator(list(ticks)))
    axis.set_major_formatter(lambda v, _pos: label(v))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())


def plot_forward_noising(view: NoisingView, dpi: int = DEFAULT_DPI) -> Figure:
    """A static forward-noising figure (see :class:`ForwardNoisingFigure`)."""
    return ForwardNoisingFigure(view, dpi=dpi, animated=False).fig
