"""The live explorer panel (explorer.ipynb, 07): beta, T, preset and input scaling change the
recommender, on screen. It never trains: it calls an ``explore`` callable
(:class:`course.explorer_runs.Explorer`) and shows its result; nothing in
``codigem_lab`` imports it. Its design: docs/explorer.md.
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from codigem_lab.data.spec import SYNTHETIC_BANNER
from codigem_lab.diffusion.types import PRESETS
from codigem_lab.errors import CodigemError
from codigem_lab.viz.plots import new_figure
from course.explorer_runs import Explorer, cached_points
from course.png import figure_png
from course.snapshot import SnapshotDisplay

#: The beta slider's stops: log-spaced (1-3-10), from 1e-5 to 0.9 (the paper's Fig. 2 range).
BETAS = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 0.9)
T_MIN, T_MAX = 1, 15
#: Input scaling choices: the preset's own, or either scaling explicitly.
SCALINGS = (("as the preset", "auto"), ("x in {-1, 1}", "minus1_1"), ("x in {0, 1}", "none"))
SCALING_NAMES = {value: label for label, value in SCALINGS if value != "auto"}
MODEL_NAMES = {"codigem": "CODIGEM", "pop": "Pop", "itemknn": "Item-KNN"}
HIT = "\u2713"  # check mark
#: The recall table's columns and their formats (popularity of the top 50 beside R@50).
METRIC_FORMATS = {
    "R@20": ".3f",
    "R@50": ".3f",
    "ARP@50": ".0f",
    "novelty@50": ".2f",
    "coverage@50": ".3f",
    "user R@50": ".2f",
}
#: A reference sweep (committed results on other data) drawn under the live points.
Reference = Mapping[str, pd.DataFrame]


def beta_label(beta: float) -> str:
    """How the slider prints a beta: 1e-04, 3e-03, 0.1, 0.9."""
    return f"{beta:.0e}" if beta < 0.01 else f"{beta:g}"


# ------------------------------------------------------------------------------ plain parts
def top10_frame(result) -> pd.DataFrame:
    """Rank x model (CODIGEM, Pop, Item-KNN): titles, held-out hits prefixed with a check mark."""
    cols = {}
    for model, name in MODEL_NAMES.items():
        items = result.top.get(model, [])
        cols[name] = [f"{HIT} {t.title}" if t.hit else t.title for t in items]
    n = max((len(v) for v in cols.values()), default=0)
    cols = {k: v + [""] * (n - len(v)) for k, v in cols.items()}
    return pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1, name="rank"))


def metrics_frame(result) -> pd.DataFrame:
    """Model x :data:`METRIC_FORMATS`: test R@20, R@50 (all test users), the popularity of the top
    50 lists (ARP, novelty, catalogue coverage) and the chosen user's R@50."""
    rows = {}
    for model, name in MODEL_NAMES.items():
        values = {**result.metrics.get(model, {}), **result.beyond.get(model, {})}
        values["user R@50"] = result.user_metrics.get(model, {}).get("R@50", math.nan)
        rows[name] = {c: values.get(c, math.nan) for c in METRIC_FORMATS}
    return pd.DataFrame(rows).T


def setting_text(setting) -> str:
    """A setting in the panel's words: 'beta = 1e-04, T = 3, paper preset, x in {-1, 1}'."""
    return (
        f"beta = {beta_label(setting.beta)}, T = {setting.T}, {setting.preset} preset, "
        + SCALING_NAMES.get(setting.scaling, setting.scaling)
        + ("" if setting.variant == "base" else f", Table 3 variant {setting.variant}")
    )


def readouts(result) -> dict[str, str]:
    """The texts under the sliders: setting, noise kept, training, the user, a verdict."""
    s = result.setting
    m = result.metrics
    r50, pop50, knn50 = m["codigem"]["R@50"], m["pop"]["R@50"], m["itemknn"]["R@50"]
    if r50 > pop50:
        verdict = f"CODIGEM beats Pop on R@50 by {r50 - pop50:+.3f}"
    else:
        verdict = f"CODIGEM does not beat Pop on R@50 ({r50 - pop50:+.3f}): a popularity list"
    verdict += f"; Item-KNN is at {knn50:.3f}"
    if knn50 > r50:
        verdict += (
            f", ahead: the explorer trains CODIGEM for at most {s.epochs} short epochs "
            "(see 'Why is Item-KNN ahead?' under the panel)"
        )
    how = "trained now" if result.trained else "from the cache"
    hits = sum(t.hit for t in result.top.get("codigem", []))
    banner = {"data": SYNTHETIC_BANNER} if getattr(result, "synthetic", False) else {}
    arp = {MODEL_NAMES[m]: v.get("ARP@50", math.nan) for m, v in result.beyond.items()}
    popularity = (
        "popularity of the top 50 (ARP: mean training users per listed movie; higher = more "
        "blockbusters, less novel): " + ", ".join(f"{k} {v:.0f}" for k, v in arp.items())
    )
    return {
        **banner,
        "setting": setting_text(s),
        "noise": (
            f"alpha_bar_1 = {result.alpha_bar_1:.6g} (what the decoder's input z_1 keeps of x), "
            f"alpha_bar_T = {result.alpha_bar_T:.6g}"
        ),
        "training": (
            f"{result.epochs} epochs (best {result.best_epoch}), {how} in {result.seconds:.1f} s"
        ),
        "user": (
            f"user {result.user}: {result.n_fold_in} movies seen, {len(result.targets)} held out; "
            f"{hits} of them in CODIGEM's top 10"
        ),
        "verdict": verdict,
        **({"popularity": popularity} if arp else {}),
    }


def setting_point(result) -> dict:
    """One tried setting as a point of the Fig. 2 / Fig. 3 scatters."""
    s = result.setting
    return {
        "key": result.key,
        "beta": float(s.beta),
        "T": int(s.T),
        "preset": s.preset,
        "scaling": s.scaling,
        "variant": s.variant,
        "R@50": float(result.metrics["codigem"]["R@50"]),
    }


def add_point(tried: Sequence[dict], item) -> list[dict]:
    """``tried`` with a result's setting (or a ready point dict) added, once: a setting seen
    again is not repeated."""
    point = dict(item) if isinstance(item, dict) else setting_point(item)
    return [p for p in tried if p["key"] != point["key"]] + [point]


def reference_from_rows(fig2_rows: Sequence[Mapping], fig3_rows: Sequence[Mapping]) -> Reference:
    """The Fig. 2 / Fig. 3 tables' rows (a results file's or a study's) as the panel's reference
    series: mean test R@50 against beta and against T."""
    out = {}
    for x, rows in (("beta", fig2_rows), ("T", fig3_rows)):
        frame = pd.DataFrame(list(rows), columns=[x, "R@50_mean"])
        out[x] = frame.rename(columns={"R@50_mean": "R@50"}).astype(float)
    return out


def explorer_figure(
    result,
    tried: Sequence[dict] = (),
    dpi: int = 80,
    reference: Reference | None = None,
    reference_label: str = "reference",
) -> Figure:
    """Training curve, R@50 vs beta (Fig. 2 style) and R@50 vs T (Fig. 3 style), one row.

    The plots show every tried point: in colour those that differ from the current setting
    only in the swept quantity, in grey the rest; the current setting is the large red point.
    Pop's and Item-KNN's test R@50 are the dashed lines. ``reference`` (``{"beta": frame,
    "T": frame}``, columns the swept quantity and ``R@50``) is drawn under them as a black series
    named ``reference_label``: a committed sweep on other data, for comparison of shape.
    """
    fig = new_figure(12.5, 3.1, dpi=dpi)
    _draw_plots(fig, result, tried, reference, reference_label)
    return fig


def _draw_plots(fig, result, tried: Sequence[dict], reference=None, ref_label: str = "") -> None:
    """The three plots of :func:`explorer_figure`, drawn into ``fig`` (a Figure or SubFigure)."""
    s = result.setting
    ax_curve, ax_beta, ax_T = fig.subplots(1, 3)
    h = result.history
    if len(h):
        ax_curve.plot(h["epoch"], h["R@50"], "o-", color="#4c72b0", ms=3, label="CODIGEM")
    for model, color in (("pop", "#888888"), ("itemknn", "#55a868")):
        v = result.baseline_valid.get(model)
        if v is not None:
            ax_curve.axhline(v, ls="--", lw=1, color=color, label=MODEL_NAMES[model])
    ax_curve.set(xlabel="epoch", ylabel="validation R@50", title="training curve")
    ax_curve.legend(fontsize=6, loc="best", framealpha=0.6)

    cur = setting_point(result)
    data = s.dataset.upper() if s.dataset.startswith("ml-") else s.dataset
    live = f"yours, {data}, live"
    pts = pd.DataFrame(list(tried) or [cur])
    same = (pts["preset"] == cur["preset"]) & (pts["scaling"] == cur["scaling"])
    same &= pts["variant"] == cur["variant"]
    for ax, x, fixed, title in (
        (ax_beta, "beta", "T", f"R@50 vs beta (yours at T = {s.T})"),
        (ax_T, "T", "beta", f"R@50 vs T (yours at beta = {beta_label(s.beta)})"),
    ):
        ref = (reference or {}).get(x)
        if ref is not None and len(ref):
            ref = ref.sort_values(x)
            ax.plot(ref[x], ref["R@50"], "s-", color="black", ms=3, lw=1, label=ref_label)
        on = same & np.isclose(pts[fixed].astype(float), float(cur[fixed]))
        off = pts[~on]
        ax.scatter(off[x], off["R@50"], s=12, color="#cccccc", label="yours, other settings")
        line = pts[on].sort_values(x)
        ax.plot(line[x], line["R@50"], "o-", color="#4c72b0", ms=4, lw=1, label=live)
        ax.scatter([cur[x]], [cur["R@50"]], s=90, color="#c44e52", zorder=5, label="yours, now")
        for model, color in (("pop", "#888888"), ("itemknn", "#55a868")):
            ax.axhline(
                result.metrics[model]["R@50"],
                ls="--",
                lw=1,
                color=color,
                label=f"{MODEL_NAMES[model]}, {data}",
            )
        ax.set(xlabel=x, ylabel="test R@50", title=title)
        ax.title.set_fontsize(9)
    ax_beta.set_xscale("log")
    ax_beta.set_xlim(BETAS[0] / 2, 1.0)
    ax_T.set_xlim(T_MIN - 0.5, max(T_MAX, int(pts["T"].max())) + 0.5)
    handles, labels = ax_beta.get_legend_handles_labels()
    ax_T.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.legend(handles, labels, loc="outside right center", fontsize=6.5, frameon=False)


def snapshot_figure(view: ExplorerView, dpi: int = 80) -> Figure:
    """The whole panel as one picture, for saved notebooks opened without a kernel: the
    readouts, the user's history, the three top-10 lists (held-out hits marked), the recall and
    popularity table, and the plots."""
    r = view.result
    fig = new_figure(12.5, 7.2, dpi=dpi)
    top, bottom = fig.subfigures(2, 1, height_ratios=[4.1, 3.1])
    ax = top.subplots()
    ax.axis("off")
    lines = [f"{k}: {v}" for k, v in view.readouts.items()]
    ax.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=6.5, family="monospace",
            transform=ax.transAxes, wrap=True)  # fmt: skip
    met = view.metrics
    rows = [[name, *(format(v, METRIC_FORMATS[c]) for c, v in met.loc[name].items())]
            for name in met.index]  # fmt: skip
    t2 = ax.table(cellText=rows, colLabels=["test", *met.columns], bbox=[0.0, 0.5, 0.6, 0.2])
    t2.auto_set_font_size(False)
    t2.set_fontsize(6.5)
    seen = view.result.seen
    shown = seen[:11] + ([f"... and {len(seen) - 11} more"] if len(seen) > 11 else [])
    cells = [[h, str(i), *row] for h, i, row in zip(
        shown + [""] * (len(view.top10) - len(shown)), view.top10.index,
        view.top10.to_numpy().tolist())]  # fmt: skip
    if cells:
        table = ax.table(
            cellText=cells,
            colLabels=[f"user {r.user} rated", "rank",
                       *[f"{c} top 10 ({HIT} held out)" for c in view.top10.columns]],
            colWidths=[0.19, 0.04, 0.19, 0.19, 0.19],
            bbox=[0.0, 0.0, 1.0, 0.47],
            cellLoc="left",
        )  # fmt: skip
        table.auto_set_font_size(False)
        table.set_fontsize(6)
    ax.set_title(f"Explorer, user {r.user}: a picture of the panel (run the cell for the live one)",
                 fontsize=8, loc="left")  # fmt: skip
    _draw_plots(bottom, r, view.tried, view.reference, view.reference_label)
    return fig


def _html_table(df: pd.DataFrame, css: str, formats: Mapping[str, str] | None = None) -> str:
    """A compact HTML table; text cells wrap at ``max-width`` so that the panel fits 1400 px."""

    def cell(col, v) -> str:
        if isinstance(v, float):
            return "-" if math.isnan(v) else format(v, (formats or {}).get(col, ".4f"))
        text = html.escape(str(v))
        if text.startswith(HIT):
            return f'<b style="color:#2a7a2a">{text}</b>'
        return text

    pad = ' style="padding:1px 6px;max-width:190px;vertical-align:top"'
    head = "".join(
        f"<th{pad}>{html.escape(str(c))}</th>" for c in [df.index.name or "", *df.columns]
    )
    body = "".join(
        f"<tr><th{pad}>{html.escape(str(i))}</th>"
        + "".join(f"<td{pad}>{cell(c, v)}</td>" for c, v in zip(df.columns, row))
        + "</tr>"
        for i, row in zip(df.index, df.itertuples(index=False))
    )
    style = "border-collapse:collapse;font-size:12px;text-align:left"
    return f'<table class="{css}" style="{style}"><tr>{head}</tr>{body}</table>'


def history_html(result) -> str:
    """The user's history: the titles of the movies they rated (fold-in), in a scrolling box."""
    items = "".join(f"<li>{html.escape(t)}</li>" for t in result.seen)
    return (
        f"<b>User {result.user} rated</b> ({len(result.seen)} movies: what the lists are "
        "judged against)<div style='max-height:230px;overflow-y:auto;font-size:12px'>"
        f"<ul style='margin:2px 0;padding-left:16px'>{items}</ul></div>"
    )


@dataclass
class ExplorerView:
    """What the panel shows for one result: the HTML parts, the readouts, the figure's PNG."""

    result: object
    top10: pd.DataFrame
    metrics: pd.DataFrame
    readouts: dict[str, str]
    tried: list[dict]
    png: bytes = b""
    top10_html: str = ""
    metrics_html: str = ""
    history_html: str = ""
    seconds: float = 0.0
    reference: Reference | None = None
    reference_label: str = ""


def explorer_view(
    result,
    tried: Sequence[dict] = (),
    dpi: int = 80,
    reference: Reference | None = None,
    reference_label: str = "reference",
) -> ExplorerView:
    """The panel's content for ``result`` (``tried``: the points so far; this one is added;
    ``reference``: see :func:`explorer_figure`)."""
    start = time.perf_counter()
    tried = add_point(tried, result)
    top = top10_frame(result)
    met = metrics_frame(result)
    fig = explorer_figure(result, tried, dpi, reference, reference_label)
    return ExplorerView(
        result=result,
        top10=top,
        metrics=met,
        readouts=readouts(result),
        tried=tried,
        png=figure_png(fig),
        top10_html=_html_table(top, "codigem-explorer-top10-table"),
        metrics_html=_html_table(met, "codigem-explorer-metrics-table", METRIC_FORMATS),
        history_html=history_html(result),
        seconds=time.perf_counter() - start,
        reference=reference,
        reference_label=reference_label,
    )


# ------------------------------------------------------------------------------------ panel
class ExplorerPanel(SnapshotDisplay):
    """Widgets around an ``explore`` callable; ``panel.widget`` is the box to display.

    ``explore(beta=..., T=..., preset=..., input_scaling=..., user=...)`` must return an
    explore result (see :class:`codigem_lab.experiments.explore.ExploreResult`);
    ``input_scaling`` is None for the preset's own and ``user`` None for a typical user.
    :meth:`update` is what a widget change runs (callable directly: tests, notebooks); with
    ``threaded`` (default) widget changes run it in a worker thread, coalescing changes made while
    it works. ``tried`` seeds the scatters' points (results of a grid filled ahead, or point
    dicts); by default, for an :class:`~course.explorer_runs.Explorer`, every setting
    in its cache (:func:`course.explorer_runs.cached_points`).
    ``reference`` and ``reference_label``: a committed sweep drawn under the live points (see
    :func:`explorer_figure`).
    """

    def __init__(
        self,
        explore: Callable[..., object],
        beta: float = 1e-4,
        T: int = 3,
        preset: str = "paper",
        input_scaling: str | None = None,
        user: int | None = None,
        tried: Sequence[object] = (),
        threaded: bool = True,
        dpi: int = 80,
        reference: Reference | None = None,
        reference_label: str = "reference",
    ) -> None:
        import ipywidgets as w

        self.explore = explore
        self.threaded = threaded
        self.dpi = dpi
        self.reference, self.reference_label = reference, reference_label
        self.tried: list[dict] = []
        if not tried:
            tried = cached_points(explore)  # settings tried before, in any session (Explorer)
        for r in tried:  # results, or points, of settings tried before
            self.tried = add_point(self.tried, r)
        self._lock = threading.Lock()
        self._pending: dict | None = None
        self._busy = False
        self._worker: threading.Thread | None = None
        self._quiet = False
        self.view: ExplorerView | None = None
        self.error: BaseException | None = None

        stops = list(BETAS)
        if not any(math.isclose(beta, b) for b in stops):
            stops = sorted([*stops, float(beta)])  # a start value off the stops becomes one
        beta = next(b for b in stops if math.isclose(b, beta))
        options = [(beta_label(b), b) for b in stops]
        self.beta_slider = w.SelectionSlider(
            options=options,
            value=beta,
            description="beta",
            continuous_update=False,
            layout=w.Layout(width="420px"),
        )
        self.T_slider = w.IntSlider(
            value=T,
            min=T_MIN,
            max=T_MAX,
            description="T",
            continuous_update=False,
            layout=w.Layout(width="420px"),
        )
        self.preset = w.Dropdown(options=list(PRESETS), value=preset, description="preset")
        self.scaling = w.ToggleButtons(
            options=list(SCALINGS),
            value=input_scaling or "auto",
            description="input",
            style={"button_width": "110px"},
        )
        self.user = w.Dropdown(options=[("typical test user", -1)], value=-1, description="user")
        self.user.layout = w.Layout(width="420px")
        self.status = w.HTML()
        banner = getattr(explore, "banner", None)  # the synthetic data's warning, before any result
        self.banner = w.HTML(
            f"<b style='color:#c44e52'>{html.escape(banner)}</b>" if isinstance(banner, str) else ""
        )
        self.readout = w.HTML()
        self.history = w.HTML(layout=w.Layout(width="300px"))
        self.top10 = w.HTML()
        self.metrics = w.HTML()
        self.image = w.Image(format="png")
        for widget, css in (
            (self.beta_slider, "beta-slider"),
            (self.T_slider, "T-slider"),
            (self.preset, "preset"),
            (self.scaling, "scaling"),
            (self.user, "user"),
            (self.status, "status"),
            (self.banner, "banner"),
            (self.top10, "top10"),
            (self.history, "history"),
            (self.metrics, "metrics"),
            (self.image, "plot"),
        ):
            widget.add_class(f"codigem-explorer-{css}")
        self.readout.add_class("codigem-explorer-readouts")
        self.widget = w.VBox(
            [
                self.banner,
                w.HBox(
                    [
                        w.VBox([self.beta_slider, self.T_slider, self.user]),
                        w.VBox([self.preset, self.scaling]),
                    ]
                ),
                self.status,
                self.readout,
                self.metrics,
                w.HBox([self.history, self.top10]),
                self.image,
            ]
        )
        self.widget.add_class("codigem-explorer-panel")
        first = {"beta": self.beta_slider.value, "T": T, "preset": preset}
        self._safe_update({**first, "input_scaling": input_scaling, "user": user})
        for widget in (self.beta_slider, self.T_slider, self.preset, self.scaling, self.user):
            widget.observe(self._on_change, names="value")

    # -- values ------------------------------------------------------------------------------
    def values(self) -> dict:
        """The widgets' current values as ``explore``'s keyword arguments (typed and checked
        once, by the ExploreSetting they make)."""
        scaling = self.scaling.value
        user = self.user.value
        return {
            "beta": self.beta_slider.value,
            "T": self.T_slider.value,
            "preset": self.preset.value,
            "input_scaling": None if scaling == "auto" else scaling,
            "user": None if user == -1 else int(user),
        }

    def update(
        self,
        beta: float,
        T: int,
        preset: str = "paper",
        input_scaling: str | None = None,
        user: int | None = None,
    ) -> ExplorerView:
        """Call ``explore`` for these values and show the result; returns the view shown."""
        self.status.value = (
            f"<i>working on beta = {beta_label(beta)}, T = {T}, {preset} preset "
            "(a new setting trains for a few seconds)...</i>"
        )
        result = self.explore(beta=beta, T=T, preset=preset, input_scaling=input_scaling, user=user)
        view = explorer_view(result, self.tried, self.dpi, self.reference, self.reference_label)
        self.tried = view.tried
        self._show(view)
        return view

    def _show(self, view: ExplorerView) -> None:
        r = view.result
        choices = list(getattr(r, "user_choices", []) or [])
        if choices and [v for _, v in self.user.options] != [-1, *[v for _, v in choices]]:
            self._quiet = True  # filling the picker must not start another update
            try:
                current = self.user.value
                self.user.options = [("typical test user", -1), *choices]
                self.user.value = current if current in [v for _, v in choices] else -1
            finally:
                self._quiet = False
        self.readout.value = "".join(
            f"<div class='codigem-explorer-readout-{k}'><code>{html.escape(text)}</code></div>"
            for k, text in view.readouts.items()
            if not (k == "data" and self.banner.value)  # shown once, above the sliders
        )
        self.top10.value = (
            f"<b>Top 10 for user {r.user}</b> ({HIT} = a held-out movie)<br>{view.top10_html}"
        )
        self.metrics.value = (
            "<b>Test recall, and the popularity of each model's top 50</b> (ARP: mean training "
            "users per listed movie; novelty: mean -log2 of the share of users who rated it; "
            f"coverage: share of the catalogue in any user's list)<br>{view.metrics_html}"
        )
        self.history.value = view.history_html
        self.image.value = view.png
        r50 = r.metrics["codigem"]["R@50"]
        self.status.value = (
            f"<span class='codigem-explorer-done'>ready: {html.escape(view.readouts['setting'])}"
            f" | R@50 = {r50:.4f}</span>"
        )
        self.view = view

    # -- widget events -----------------------------------------------------------------------
    def _on_change(self, change) -> None:  # noqa: ANN001 (traitlets change dict)
        if self._quiet:
            return
        values = self.values()
        if not self.threaded:
            self._safe_update(values)
            return
        with self._lock:
            self._pending = values
            if self._busy:
                return
            self._busy = True
            self._worker = threading.Thread(target=self._drain, daemon=True)
        self.status.value = f"<i>queued beta = {beta_label(values['beta'])}, T = {values['T']}</i>"
        self._worker.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                values, self._pending = self._pending, None
                if values is None:
                    self._busy = False
                    return
            self._safe_update(values)

    def _safe_update(self, values: dict) -> None:
        try:
            self.update(**values)
            self.error = None
        except Exception as exc:  # noqa: BLE001 (shown in the panel: a widget callback must not die)
            self.error = exc
            self.status.value = (
                f"<b class='codigem-explorer-error' style='color:#c44e52'>"
                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</b>"
            )

    def snapshot_png(self) -> bytes:
        view = getattr(self, "view", None)
        if view is None:
            return bytes(self.image.value or b"")
        return figure_png(snapshot_figure(view, dpi=self.dpi))

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the worker has shown the last change (tests, scripts)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._busy:
                    return
            time.sleep(0.01)
        raise TimeoutError(f"the explorer was still working after {timeout} s")


def on_demand(label: str, compute: Callable[[], object], ready: bool = False):  # noqa: ANN201
    """A button that runs ``compute`` once, its output shown below it: a slow result stays off
    the page's load (Voila shows a page when every cell has run). ``ready``: run it at once."""
    import ipywidgets as w

    button, out = w.Button(description=label, layout={"width": "auto"}), w.Output()

    def run(_=None) -> None:
        if button.disabled:  # a second click while it runs, or after
            return
        button.disabled, button.description = True, f"{label}: running..."
        with out:
            compute()
        button.layout.display = "none"

    button.on_click(run)
    if ready:
        run()
    return w.VBox([button, out])


def open_explorer(dataset: str = "ml-100k", **panel) -> ExplorerPanel:
    """The explorer panel on ``dataset`` through the one data path (``resolve_data``): real data
    from the cache or the registry, else the synthetic dataset with its banner; a data error shows
    as one line in the panel (naming the fix), never a traceback. ``panel``: ExplorerPanel's."""
    from codigem_lab.data.spec import resolve_data

    try:
        explore = Explorer(resolve_data(dataset))
    except CodigemError as exc:
        explore = _Unavailable(exc)
    return ExplorerPanel(explore, **panel)


@dataclass
class _Unavailable:
    """An ``explore`` callable for data that could not be had: every call raises its error."""

    error: CodigemError

    def __call__(self, **values) -> object:
        raise self.error
