"""The live explorer: its computation (experiments.explore), its panel's plain update functions
(course.explorer, beside the notebooks) and ``codigem-lab explore --json``.

Quick settings train CODIGEM for two epochs on 300 synthetic users (about a second); the ML-100K
check (beats Pop at beta = 1e-4, drops at beta = 0.9) trains two real explorer settings.
"""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
from course import explorer as vx
from course import explorer_runs as runs
from course import readings

from codigem_lab.errors import ConfigError
from codigem_lab.experiments import explore as ex
from codigem_lab.experiments.cache import ResultCache
from codigem_lab.experiments.explore import ExploreResult, ExploreSetting, TopItem

from .conftest import shared_file

QUICK = dict(dataset="synthetic", max_users=300, epochs=2, patience=2)


@pytest.fixture()
def cache(tmp_path):
    return ResultCache(tmp_path / "runs")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One torch thread: on a small shared CPU more threads spin-wait for each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _fresh_memo():
    ex.data_split.cache_clear()
    ex._titles.cache_clear()
    yield
    ex.data_split.cache_clear()
    ex._titles.cache_clear()


# ----------------------------------------------------------------------------- computation
def test_explore_result_and_cache(cache):
    setting = ExploreSetting(**QUICK)
    r = ex.explore(setting, cache)
    assert r.trained
    split = setting.data().load()
    row = int(np.flatnonzero(split.test.users == r.user)[0])
    targets = set(split.items[split.test.target[row].indices].tolist())
    seen = set(split.items[split.test.fold_in[row].indices].tolist())
    assert len(targets) >= ex.MIN_TARGETS
    assert r.user == ex.typical_user(split)
    for model in ex.MODELS:
        top = r.top[model]
        assert [t.rank for t in top] == list(range(1, 11))
        assert len({t.item for t in top}) == 10
        assert not seen & {t.item for t in top}, "a fold-in item was recommended"
        assert [t.hit for t in top] == [t.item in targets for t in top]
        assert set(r.metrics[model]) == {"R@20", "R@50"}
    assert r.metrics["pop"]["R@50"] > 0
    assert list(r.history["epoch"]) == [1, 2] and r.epochs == 2
    assert r.alpha_bar_1 == pytest.approx(1 - 1e-4)
    assert r.alpha_bar_T == pytest.approx((1 - 1e-4) ** 3)
    assert r.user_choices[0][1] == r.user and "typical" in r.user_choices[0][0]
    assert r.seen == sorted(f"item {i}" for i in seen)  # synthetic data: no titles
    # the same setting again: from the cache, same lists, no training, fast
    ex.data_split.cache_clear()
    t0 = time.perf_counter()
    again = ex.explore(setting, cache)
    assert not again.trained
    assert time.perf_counter() - t0 < 2.0
    assert [t.item for t in again.top["codigem"]] == [t.item for t in r.top["codigem"]]
    assert again.metrics == r.metrics
    # another user is another view of the same runs: no training either
    other = next(u for _, u in r.user_choices if u != r.user)
    r2 = ex.explore(ExploreSetting(**QUICK, user=other), cache)
    assert not r2.trained and r2.user == other and r2.metrics == r.metrics


def test_stored_top_is_the_evaluated_ranking(cache):
    """The stored top 50 reproduces every test user's R@50 the trainer measured (so the lists are
    the trained model's, masked as the evaluator masks), and the checkpoints are gone after.
    Pop ranks by counts, with ties: its list must hold the most popular unseen items."""
    setting = ExploreSetting(**QUICK, beta=1e-3)
    ex.explore(setting, cache)
    split = setting.data().load()
    es = split.test
    counts = pd.Series(np.asarray(split.train.sum(0)).ravel(), index=split.items)
    for model in ex.MODELS:
        spec = setting.spec(model)
        record = cache.get(spec)
        top = ex.stored_top(spec, record, split)
        per_user = record.per_user()
        for row, u in enumerate(es.users):
            targets = set(split.items[es.target[row].indices].tolist())
            seen = set(split.items[es.fold_in[row].indices].tolist())
            items = top[int(u)][:50]
            assert len(items) == 50 and not seen & set(items)
            if model == "pop":
                rest = counts.drop(list(seen | set(items)))
                assert counts[items].min() >= rest.max()
            elif targets:
                hits = len(targets & set(items))
                assert hits / min(50, len(targets)) == pytest.approx(
                    per_user.at[u, "R@50"], abs=1e-6
                ), (model, u)
        assert not (record.path / "best.pt").exists() and not (record.path / "last.pt").exists()
        assert (record.path / ex.TOP_FILE).exists()


def test_beyond_accuracy_counts_the_stored_lists(cache):
    """ARP, novelty and coverage of each model's top 50, recomputed by hand from the lists and
    the training counts: Pop's lists hold the most popular items, so theirs is the highest ARP."""
    setting = ExploreSetting(**QUICK)
    r = ex.explore(setting, cache)
    split = setting.data().load()
    counts = pd.Series(np.asarray((split.train > 0).sum(0)).ravel(), index=split.items)
    n_users = split.train.shape[0]
    for model in ex.MODELS:
        spec = setting.spec(model)
        top = ex.stored_top(spec, cache.get(spec), split)
        lists = [top[int(u)][:50] for u in split.test.users]
        arp = np.mean([counts[items].mean() for items in lists])
        novelty = np.mean([np.mean(-np.log2(np.maximum(counts[items], 1) / n_users))
                           for items in lists])  # fmt: skip
        covered = len(set().union(*map(set, lists))) / len(split.items)
        assert r.beyond[model] == pytest.approx(
            {"ARP@50": arp, "novelty@50": novelty, "coverage@50": covered}
        ), model
    assert r.beyond["pop"]["ARP@50"] == max(b["ARP@50"] for b in r.beyond.values())
    assert json.loads(json.dumps(r.to_json()))["pop_ARP@50"] == r.beyond["pop"]["ARP@50"]


def test_budget_comparison_and_its_reading(cache, monkeypatch):
    """CODIGEM at the explorer's budget and at 'the paper's' (shrunk here to 4 epochs), Item-KNN
    and Pop on the same data, with CODIGEM's paired difference from Item-KNN."""
    monkeypatch.setitem(runs.PAPER_BUDGET, "epochs", 4)
    setting = ExploreSetting(**QUICK)
    f = runs.budget_comparison(setting, cache)
    assert list(f.index) == [
        "CODIGEM, the explorer's budget", "CODIGEM, the paper's budget", "Item-KNN", "Pop"
    ]  # fmt: skip
    assert f["epochs"].iloc[:2].tolist() == [2, 4]
    short = ex.explore(setting, cache)  # the panel's run: the same record, from the cache
    assert not short.trained and f["R@50"].iloc[0] == short.metrics["codigem"]["R@50"]
    knn = cache.get(setting.spec("itemknn")).per_user()["R@50"]
    mine = cache.get(setting.spec()).per_user()["R@50"]
    assert f["vs Item-KNN"].iloc[0] == pytest.approx((mine - knn).dropna().mean())
    lo, hi = f["low"].iloc[1], f["high"].iloc[1]
    assert lo <= f["vs Item-KNN"].iloc[1] <= hi and f["test users"].iloc[0] == len(knn)
    text = readings.budget_reading(f)
    assert f"{f.loc['Item-KNN', 'R@50']:.3f}" in text and "an inference" in text


def test_the_slow_budget_run_waits_for_a_button_unless_it_is_cached(cache, monkeypatch):
    """The explorer page does not wait for the paper's budget: a button trains it (once, however
    often clicked); once the result cache holds it, it shows at once."""
    from course.explorer import on_demand

    monkeypatch.setitem(runs.PAPER_BUDGET, "epochs", 4)
    setting = ExploreSetting(**QUICK)
    calls = []
    box = on_demand("go", lambda: calls.append(1), ready=runs.budget_in_cache(setting, cache))
    button = box.children[0]
    assert calls == [] and button.description == "go" and not button.disabled
    button.click()
    button.click()
    assert calls == [1] and button.disabled and button.layout.display == "none"
    runs.budget_comparison(setting, cache)
    assert runs.budget_in_cache(setting, cache)
    on_demand("go", lambda: calls.append(2), ready=runs.budget_in_cache(setting, cache))
    assert calls == [1, 2]


@pytest.mark.parametrize(
    ("paper", "interval", "says"),
    [
        (0.50, (-0.05, 0.01), "within the noise"),
        (0.47, (-0.09, -0.01), "stays ahead"),
        (0.56, (0.01, 0.05), "CODIGEM is ahead"),
    ],
)
def test_budget_reading_follows_the_interval(paper, interval, says):
    f = pd.DataFrame(
        {
            "budget": ["short", "paper", "closed form", "closed form"],
            "epochs": [10, 80, None, None],
            "R@50": [0.43, paper, 0.53, 0.30],
            "vs Item-KNN": [-0.1, paper - 0.53, None, None],
            "low": [-0.13, interval[0], None, None],
            "high": [-0.07, interval[1], None, None],
            "test users": [94, 94, None, None],
        },
        index=["a", "b", "Item-KNN", "Pop"],
    )
    text = readings.budget_reading(f)
    assert says in text and "inference" in text
    assert f"closes {(paper - 0.43) / 0.1:.0%} of the panel's gap" in text


def test_run_cached_without_lists_is_ranked_again(cache):
    """A run cached by someone else (no checkpoint, no lists) is retrained off the cache, once,
    to the same lists: training is seeded."""
    setting = ExploreSetting(**QUICK, T=2)
    first = ex.explore(setting, cache)
    record = cache.get(setting.spec("codigem"))
    (record.path / ex.TOP_FILE).unlink()
    again = ex.explore(setting, cache)
    assert [t.item for t in again.top["codigem"]] == [t.item for t in first.top["codigem"]]
    assert (record.path / ex.TOP_FILE).exists()


def test_settings_share_runs_and_keys():
    paper = ExploreSetting(**QUICK)
    assert paper.spec().key() == ExploreSetting(**QUICK, input_scaling="minus1_1").spec().key()
    assert paper.spec().key() == ExploreSetting(**QUICK, user=5).spec().key()
    assert paper.spec().key() != ExploreSetting(**QUICK, beta=0.9).spec().key()
    released = ExploreSetting(**QUICK, preset="released")
    assert released.spec().params.get("input_scaling") is None
    assert (
        ExploreSetting(**QUICK, preset="released", input_scaling="minus1_1")
        .spec()
        .params["input_scaling"]
        == "minus1_1"
    )
    assert ExploreSetting(**QUICK, variant="IV").spec().params["likelihood"] == "multinomial"
    assert paper.spec("pop").key() == ExploreSetting(**QUICK, beta=0.9, T=7).spec("pop").key()
    spec = paper.spec()
    assert (spec.train.max_epochs, spec.train.batch_size) == (2, ex.BATCH_SIZE)
    assert ExploreSetting().spec().train.max_epochs == ex.EPOCHS


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"preset": "paperr"}, "preset must be one of"),
        ({"variant": "V"}, "variant must be one of"),
        ({"beta": 1.5}, "0 < beta < 1"),
        ({"beta": 0}, "0 < beta < 1"),
        ({"T": 0}, "T must be an integer >= 1"),
        ({"input_scaling": "pm1"}, "input_scaling must be one of"),
        ({"epochs": 0}, "epochs must be an integer >= 1"),
    ],
)
def test_bad_settings_say_what_to_do(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        ExploreSetting(**kwargs)


def test_unknown_user_is_a_clear_error(cache):
    with pytest.raises(ConfigError, match="not a test user of this split.*e.g."):
        ex.explore(ExploreSetting(**QUICK, user=10**9), cache)


def test_fill_grid_trains_ahead_then_all_cached(cache, capsys):
    settings = runs.grid([1e-4, 0.3], [1], **QUICK)
    assert [(s.beta, s.T) for s in settings] == [(1e-4, 1), (0.3, 1)]
    results = runs.fill_grid(settings, progress=True, cache=cache)
    assert [r.setting for r in results] == settings and all(r.trained for r in results)
    assert "explorer grid" in capsys.readouterr().err
    again = runs.fill_grid(settings, progress=False, cache=cache)
    assert not any(r.trained for r in again)
    # a later session finds them in the cache: the points of the panel's scatters
    explorer = runs.Explorer(cache=cache, **QUICK)
    points = sorted(runs.cached_points(explorer), key=lambda p: p["beta"])
    assert [(p["beta"], p["T"], p["preset"], p["variant"]) for p in points] == [
        (1e-4, 1, "paper", "base"),
        (0.3, 1, "paper", "base"),
    ]
    assert [p["R@50"] for p in points] == [r.metrics["codigem"]["R@50"] for r in results]
    assert [p["key"] for p in points] == [r.key for r in results]
    assert runs.cached_points(runs.Explorer(cache=cache, **{**QUICK, "epochs": 3})) == []
    panel = vx.ExplorerPanel(explorer, beta=0.3, T=1, threaded=False)
    assert len(panel.tried) == 2, "the scatters start with the cached settings, once each"


# ------------------------------------------------------------------- panel: plain functions
def fake_result(beta=1e-4, T=3, preset="paper", r50=0.4, user=7, hits=(1, 4)) -> ExploreResult:
    setting = ExploreSetting(beta=beta, T=T, preset=preset, dataset="synthetic")
    top = {
        m: [TopItem(i, 100 * k + i, f"{m} movie {i}", i in hits) for i in range(1, 11)]
        for k, m in enumerate(ex.MODELS)
    }
    return ExploreResult(
        setting=setting,
        user=user,
        n_fold_in=20,
        targets=["a", "b", "c"],
        top=top,
        metrics={
            "codigem": {"R@20": r50 - 0.1, "R@50": r50},
            "pop": {"R@20": 0.2, "R@50": 0.3},
            "itemknn": {"R@20": 0.4, "R@50": 0.5},
        },  # fmt: skip
        user_metrics={m: {"R@20": 0.5, "R@50": 1.0} for m in ex.MODELS},
        history=pd.DataFrame({"epoch": [1, 2, 3], "R@50": [0.2, 0.3, r50]}),
        baseline_valid={"pop": 0.3, "itemknn": 0.5},
        alpha_bar_1=1 - beta,
        alpha_bar_T=(1 - beta) ** T,
        epochs=3,
        best_epoch=3,
        trained=True,
        seconds=1.5,
        key=f"{beta}-{T}-{preset}",
        user_choices=[("user 7 (typical)", 7), ("user 9", 9)],
        beyond={
            m: {"ARP@50": 100.0 + 50 * k, "novelty@50": 2.0 - k / 2, "coverage@50": 0.3 - k / 10}
            for k, m in enumerate(ex.MODELS)
        },
        seen=["Seen <One>", "Seen Two"],
    )


def test_view_tables_readouts_and_points():
    r = fake_result()
    top = vx.top10_frame(r)
    assert list(top.columns) == ["CODIGEM", "Pop", "Item-KNN"] and len(top) == 10
    assert top.loc[1, "CODIGEM"] == "\u2713 codigem movie 1"
    assert top.loc[2, "Pop"] == "pop movie 2"
    met = vx.metrics_frame(r)
    assert met.loc["CODIGEM", "R@50"] == 0.4 and met.loc["Pop", "R@50"] == 0.3
    assert met.loc["Pop", "ARP@50"] == 150.0 and met.loc[
        "Item-KNN", "coverage@50"
    ] == pytest.approx(0.1)
    assert list(met.columns) == list(vx.METRIC_FORMATS)
    texts = vx.readouts(r)
    assert "x in {-1, 1}" in texts["setting"] and "minus1_1" not in texts["setting"]
    assert "Why is Item-KNN ahead?" in texts["verdict"]  # Item-KNN 0.5 > CODIGEM 0.4
    assert "Why is Item-KNN ahead?" not in vx.readouts(fake_result(r50=0.6))["verdict"]
    assert "CODIGEM 100, Pop 150, Item-KNN 200" in texts["popularity"]
    assert "beats Pop on R@50 by +0.100" in texts["verdict"]
    assert "does not beat Pop" in vx.readouts(fake_result(r50=0.25))["verdict"]
    assert "alpha_bar_1 = 0.9999" in texts["noise"] and "alpha_bar_T = 0.9997" in texts["noise"]
    assert "2 of them in CODIGEM's top 10" in texts["user"]
    assert "data" not in texts
    r.synthetic = True
    assert "synthetic data: numbers mean nothing" in vx.readouts(r)["data"]
    r.synthetic = False
    tried = vx.add_point([], r)
    tried = vx.add_point(tried, fake_result(beta=0.9, r50=0.32))
    tried = vx.add_point(tried, r)  # seen again: not repeated
    assert [(p["beta"], p["R@50"]) for p in tried] == [(0.9, 0.32), (1e-4, 0.4)]
    view = vx.explorer_view(fake_result(T=5), tried)
    assert len(view.tried) == 3 and view.png.startswith(b"\x89PNG")
    assert "codigem-explorer-top10-table" in view.top10_html and "\u2713" in view.top10_html
    assert "nowrap" not in view.top10_html + view.metrics_html, "long titles must wrap to fit"
    assert "Seen &lt;One&gt;" in view.history_html and "2 movies" in view.history_html
    assert ">150<" in view.metrics_html and ">0.400<" in view.metrics_html


def test_popularity_reading_says_which_way_the_lists_moved():
    low, high = fake_result(beta=1e-4), fake_result(beta=0.9, r50=0.3)
    high.beyond["codigem"] = {"ARP@50": 140.0, "novelty@50": 1.5, "coverage@50": 0.2}
    text = readings.popularity_reading(low, high)
    assert "ARP@50 100 -> 140 (Pop's lists: 150)" in text and "R@50 0.400 -> 0.300" in text
    assert "more popular movies and fewer distinct ones" in text
    high.beyond["codigem"]["ARP@50"] = 90.0
    text = readings.popularity_reading(low, high)
    assert "ARP did not rise" in text and "R@50 fell by 0.100" in text


def test_figure_marks_the_current_point(no_pyplot_leak):
    tried = [vx.setting_point(fake_result(beta=b, r50=0.3 + b / 10)) for b in (1e-4, 1e-2, 0.9)]
    fig = vx.explorer_figure(fake_result(beta=1e-2, r50=0.301), tried)
    ax_curve, ax_beta, ax_T = fig.axes
    current = [c for c in ax_beta.collections if c.get_sizes()[0] == 90]
    assert len(current) == 1
    assert tuple(current[0].get_offsets()[0]) == pytest.approx((1e-2, 0.301))
    line = ax_beta.lines[0]  # the points at the current T, preset and scaling, joined
    assert list(line.get_xdata()) == [1e-4, 1e-2, 0.9]
    assert ax_beta.get_xscale() == "log" and "T = 3" in ax_beta.get_title()
    ref = {"beta": pd.DataFrame({"beta": [1e-4, 0.9], "R@50": [0.4, 0.3]}),
           "T": pd.DataFrame({"T": [1, 3], "R@50": [0.41, 0.40]})}  # fmt: skip
    fig = vx.explorer_figure(fake_result(), tried, reference=ref, reference_label="ML-1M, saved")
    for ax, x in zip(fig.axes[1:], ("beta", "T")):
        labels = ax.get_legend_handles_labels()[1]
        assert "ML-1M, saved" in labels and "yours, synthetic, live" in labels
        drawn = next(ln for ln in ax.lines if ln.get_label() == "ML-1M, saved")
        assert list(drawn.get_xdata()) == list(ref[x][x])


class FakeExplore:
    """Records calls; returns a fake result whose R@50 and top 10 depend on beta."""

    def __init__(self, delay: float = 0.0, fail_beta: float | None = None) -> None:
        self.calls: list[dict] = []
        self.delay = delay
        self.fail_beta = fail_beta

    def __call__(self, **values):
        self.calls.append(values)
        time.sleep(self.delay)
        if values["beta"] == self.fail_beta:
            raise ConfigError("this setting fails on purpose")
        beta = values["beta"]
        hits = (1, 2, 3) if beta < 0.01 else (9,)
        return fake_result(beta, values["T"], values["preset"], 0.45 - beta / 5, hits=hits)


def test_panel_slider_runs_explore_and_changes_lists():
    fake = FakeExplore()
    panel = vx.ExplorerPanel(fake, threaded=False)
    assert fake.calls == [
        {"beta": 1e-4, "T": 3, "preset": "paper", "input_scaling": None, "user": None}
    ]
    top0, met0 = panel.top10.value, panel.metrics.value
    assert [v for _, v in panel.user.options] == [-1, 7, 9]
    assert len(fake.calls) == 1, "filling the user picker must not call explore again"
    panel.beta_slider.value = 0.9
    assert fake.calls[-1]["beta"] == 0.9
    assert panel.top10.value != top0 and panel.metrics.value != met0
    assert "beta = 0.9" in panel.status.value and "R@50 = 0.2700" in panel.status.value
    panel.T_slider.value = 5
    panel.scaling.value = "none"
    panel.preset.value = "released"
    panel.user.value = 9
    assert fake.calls[-1] == {
        "beta": 0.9, "T": 5, "preset": "released", "input_scaling": "none", "user": 9
    }  # fmt: skip
    assert len(panel.tried) == 4  # beta 1e-4, 0.9 at T = 3, then T = 5 (paper, released)
    assert [lab for lab, _ in panel.beta_slider.options] == [vx.beta_label(b) for b in vx.BETAS]
    assert {1e-4, 0.9} <= set(vx.BETAS) and 1 <= vx.T_MIN and vx.T_MAX == 15


def test_panel_coalesces_moves_made_while_it_works():
    fake = FakeExplore(delay=0.3)
    panel = vx.ExplorerPanel(fake)
    for b in vx.BETAS[3:8]:  # five quick moves while the first one is being explored
        panel.beta_slider.value = b
    panel.wait(10)
    betas = [c["beta"] for c in fake.calls[1:]]
    assert betas[-1] == vx.BETAS[7] and len(betas) <= 2, betas
    assert f"beta = {vx.beta_label(vx.BETAS[7])}" in panel.status.value
    assert threading.active_count() >= 1


def test_panel_shows_errors_and_keeps_working():
    fake = FakeExplore(fail_beta=0.3)
    panel = vx.ExplorerPanel(fake, threaded=False)
    panel.beta_slider.value = 0.3
    assert "ConfigError: this setting fails on purpose" in panel.status.value
    assert isinstance(panel.error, ConfigError)
    panel.beta_slider.value = 0.1
    assert panel.error is None and "ready" in panel.status.value


def test_panel_first_update_error_is_one_line_not_a_traceback():
    panel = vx.ExplorerPanel(FakeExplore(fail_beta=1e-4), threaded=False)  # must not raise
    assert "ConfigError: this setting fails on purpose" in panel.status.value
    assert "codigem-explorer-error" in panel.status.value and panel.view is None
    panel.beta_slider.value = 0.1
    assert panel.error is None and "ready" in panel.status.value


def test_open_explorer_on_unknown_data_shows_the_fix_in_the_panel():
    panel = vx.open_explorer("ml-100kk", threaded=False)
    assert "codigem-explorer-error" in panel.status.value and "ml-100k" in panel.status.value
    assert panel.error is not None and panel.banner.value == ""


def test_explorer_takes_resolved_data(cache):
    from codigem_lab.data.spec import DataSpec

    data = DataSpec("synthetic", max_users=300, seed=0)
    explorer = runs.Explorer(data, cache=cache, epochs=2, patience=2)
    assert explorer.base == ExploreSetting(**QUICK)  # the same runs, the same keys
    assert "numbers mean nothing" in explorer.banner
    assert runs.Explorer("ml-100k").banner is None  # a bare name is taken as given
    with pytest.raises(ConfigError, match="strong protocol"):
        runs.Explorer(DataSpec("synthetic", protocol="ratio"))
    panel = vx.ExplorerPanel(explorer, threaded=False)
    assert "numbers mean nothing" in panel.banner.value
    assert "codigem-explorer-readout-data" not in panel.readout.value  # shown once, on top


def test_panel_with_the_real_explorer(cache):
    explorer = runs.Explorer(cache=cache, **QUICK)
    panel = vx.ExplorerPanel(explorer, threaded=False)
    before = panel.view
    panel.beta_slider.value = 0.9
    after = panel.view
    assert after.result.setting.beta == 0.9 and after.result.trained
    assert after.readouts["noise"] != before.readouts["noise"]
    assert len(panel.tried) == 2


# ----------------------------------------------------------------------------------- CLI
def test_cli_explore_json(tmp_path, capsys):
    from codigem_lab.cli import main

    argv = ["explore", "--dataset", "synthetic", "--max-users", "300", "--epochs", "2",
            "--beta", "1e-3", "--T", "2", "--cache-root", str(tmp_path / "runs"), "--no-progress",
            "--json"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    d = json.loads(out[-1])
    for key in ("R@20", "R@50", "pop_R@50", "itemknn_R@50", "top10", "seconds", "alpha_bar_1"):
        assert key in d, key
    assert d["beta"] == 1e-3 and d["T"] == 2 and d["trained"] is True
    assert len(d["top10"]) == 10 and set(d["top10"][0]) >= {"item", "title", "hit"}
    text = "\n".join(out[:-1])
    assert "Top 10 for test user" in text and "Item-KNN" in text and "R@50" in text
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["trained"] is False


def test_cli_explore_bad_option_is_one_line(capsys):
    from codigem_lab.cli import main

    assert main(["explore", "--dataset", "synthetic", "--beta", "2"]) != 0
    err = capsys.readouterr().err
    assert "0 < beta < 1" in err and "Traceback" not in err


# ------------------------------------------------------------------------- ML-100K, real
@pytest.mark.shared_data
@pytest.mark.slow
def test_ml100k_beats_pop_at_paper_beta_and_drops_at_09(cache):
    source = str(shared_file("ml-100k"))
    low = ex.explore(ExploreSetting(source=source), cache)
    high = ex.explore(ExploreSetting(source=source, beta=0.9), cache)
    pop = low.metrics["pop"]["R@50"]
    assert low.metrics["codigem"]["R@50"] > pop + 0.05, (low.metrics, pop)
    assert high.metrics["codigem"]["R@50"] < low.metrics["codigem"]["R@50"] - 0.03
    assert [t.item for t in high.top["codigem"]] != [t.item for t in low.top["codigem"]]
    assert all(not t.title.startswith("item ") for t in low.top["codigem"]), "titles were not found"
    assert low.seconds < 60
    # beyond accuracy: noisier inputs push CODIGEM's lists towards the popular items
    assert high.beyond["codigem"]["ARP@50"] > low.beyond["codigem"]["ARP@50"]
    assert high.beyond["codigem"]["coverage@50"] < low.beyond["codigem"]["coverage@50"]


def test_the_saved_picture_holds_the_lists_and_the_readouts():
    panel = vx.ExplorerPanel(FakeExplore(), threaded=False)
    fig = vx.snapshot_figure(panel.view)
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    cells = [
        c.get_text().get_text()
        for ax in fig.axes
        for tb in ax.tables
        for c in tb.get_celld().values()
    ]
    top = panel.view.top10
    assert all(title in cells for title in top["CODIGEM"]) and all(t in cells for t in top["Pop"])
    assert any("verdict: CODIGEM" in t for t in texts)
    assert f"{panel.view.metrics.loc['CODIGEM', 'R@50']:.3f}" in cells
    assert "Seen <One>" in cells and f"{panel.view.metrics.loc['Pop', 'ARP@50']:.0f}" in cells
    assert panel.snapshot_png().startswith(b"\x89PNG")
    panel.beta_slider.value = 0.9  # the picture follows the panel
    moved = [
        c.get_text().get_text()
        for ax in vx.snapshot_figure(panel.view).axes
        for tb in ax.tables
        for c in tb.get_celld().values()
    ]
    assert moved != cells
