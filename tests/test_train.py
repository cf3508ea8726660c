import numpy as np
import pandas as pd
import pytest
import torch

from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.errors import ConfigError, TrainingError
from codigem_lab.train import TrainConfig, Trainer, load_checkpoint, resolve_device


def quick(**kw):
    base = dict(max_epochs=4, patience=10, progress=False, seed=3)
    base.update(kw)
    return TrainConfig(**base)


def test_learns_and_reports_history(small_split):
    rec = CODIGEMRecommender("paper", quick(max_epochs=6)).fit(small_split)
    h = rec.result.history
    assert list(h["epoch"]) == [1, 2, 3, 4, 5, 6]
    for col in [
        "loss",
        "elbo",
        "reconstruction",
        "reverse_1",
        "reverse_2",
        "prior",
        "forward_entropy_1",
        "R@50",
        "N@50",
        "train_s",
        "eval_s",
    ]:
        assert col in h
    assert h["loss"].iloc[-1] < h["loss"].iloc[0]
    assert rec.result.best_epoch == int(h.loc[h["R@50"].idxmax(), "epoch"])
    # a meaningful bar on this split: a random scorer gets R@50 ~ 0.22, Pop ~ 0.58, and this
    # 6-epoch model ~ 0.53; require it far above random and close to Pop
    from codigem_lab.baselines import Pop
    from codigem_lab.metrics import Evaluator

    ev = Evaluator(small_split)
    rng = np.random.default_rng(0)
    random_r50 = ev.evaluate(lambda f, r: rng.random((f.shape[0], small_split.n_items)), "test")
    pop_r50 = ev.evaluate(Pop().fit(small_split), "test").metrics["R@50"]
    r50 = rec.result.test.metrics["R@50"]
    assert r50 > random_r50.metrics["R@50"] + 0.2, (r50, random_r50.metrics["R@50"])
    assert r50 > 0.8 * pop_r50, (r50, pop_r50)


def test_same_seed_same_metrics(small_split):
    a = CODIGEMRecommender("released", quick()).fit(small_split).result
    b = CODIGEMRecommender("released", quick()).fit(small_split).result
    c = CODIGEMRecommender("released", quick(seed=4)).fit(small_split).result
    assert a.test.metrics == b.test.metrics
    pd.testing.assert_series_equal(a.history["loss"], b.history["loss"])
    assert a.history["loss"].iloc[0] != c.history["loss"].iloc[0]


def test_early_stopping_restores_best(small_split):
    rec = CODIGEMRecommender("paper", quick(max_epochs=60, patience=2)).fit(small_split)
    r = rec.result
    assert r.stopped_early and r.epochs == r.best_epoch + 2
    # the restored weights give the best epoch's validation metric
    assert r.valid.metrics["R@50"] == pytest.approx(r.history["R@50"].max(), abs=1e-6)


def test_early_stopping_closes_a_full_bar(small_split, monkeypatch):
    """A notebook draws a bar closed short of its total in red (an error); early stopping is not
    one, so the training bar is closed full."""
    import codigem_lab.train as train_mod

    closed = []  # (desc, n, total) as each bar was first closed: what the notebook draws

    class Recording(train_mod.tqdm):
        def close(self):
            if not self.disable:
                closed.append((self.desc, self.n, self.total))
            super().close()

    monkeypatch.setattr(train_mod, "tqdm", Recording)
    rec = CODIGEMRecommender("paper", quick(max_epochs=60, patience=2, progress=True))
    rec.fit(small_split)
    assert rec.result.stopped_early and rec.result.epochs < 60
    training = [c for c in closed if c[0] == "training"]
    assert training[0] == ("training", rec.result.epochs, rec.result.epochs)


def test_resume_matches_uninterrupted_run(small_split, tmp_path):
    full = CODIGEMRecommender("paper", quick(max_epochs=5), run_dir=tmp_path / "full").fit(
        small_split
    )

    class Interrupt(Exception):
        pass

    def stop_after_3(row):
        if row["epoch"] == 3:
            raise Interrupt

    rec2 = CODIGEMRecommender("paper", quick(max_epochs=5), run_dir=tmp_path / "cut")
    torch.manual_seed(3)
    module = rec2.build(small_split)
    trainer = Trainer(
        module,
        small_split,
        quick(max_epochs=5),
        tmp_path / "cut",
        on_epoch=stop_after_3,
        checkpoint_every_s=0.0,  # after every epoch
    )
    with pytest.raises(Interrupt):
        trainer.fit()
    ck = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert ck["epoch"] == 2  # epoch 3's checkpoint was never written
    resumed = CODIGEMRecommender("paper", quick(max_epochs=5), run_dir=tmp_path / "cut")
    resumed.fit(small_split, resume=True)
    assert resumed.result.epochs == 5
    assert resumed.result.test.metrics == full.result.test.metrics
    np.testing.assert_allclose(resumed.result.history["loss"], full.result.history["loss"])


def test_last_checkpoint_is_throttled_but_always_holds_the_final_epoch(small_split, tmp_path):
    seen = []

    def note(row):
        seen.append((tmp_path / "last.pt").exists())

    module = CODIGEMRecommender("paper", quick(max_epochs=4)).build(small_split)
    Trainer(module, small_split, quick(max_epochs=4), tmp_path, on_epoch=note).fit()
    assert seen == [False] * 4  # the default interval is longer than this run: no epoch saved
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 4  # but its end is


def test_nan_loss_stops_with_a_cause(small_split):
    with pytest.raises(TrainingError, match="learning rate is the likely cause"):
        CODIGEMRecommender("paper", quick(lr=3e-2)).fit(small_split)
    with pytest.raises(TrainingError, match="beta=0.9 is large"):
        CODIGEMRecommender("paper", quick(lr=1e3), beta=0.9).fit(small_split)


def test_config_validation():
    with pytest.raises(ConfigError, match="optimizer"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)
    for field, bad in (("precision", "fp8"), ("patience", 0), ("max_epochs", 0), ("lr", 0.0)):
        with pytest.raises(ConfigError, match=field):
            TrainConfig(**{field: bad})
    with pytest.raises(ConfigError):
        CODIGEMRecommender("paper", beta=2.0)
    assert resolve_device("auto").type in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            resolve_device("cuda")


def test_checkpoint_is_safe_to_load(small_split, tmp_path):
    CODIGEMRecommender("paper", quick(max_epochs=2), run_dir=tmp_path).fit(small_split)
    best = load_checkpoint(tmp_path / "best.pt")  # weights_only=True
    assert best["model_config"]["variant"] == "paper"
    assert best["model_config"]["codigem"]["beta"] == 1e-4
    assert not list(tmp_path.glob("*.tmp"))


def test_score_modes_deterministic(small_split):
    rec = CODIGEMRecommender("paper", quick(max_epochs=2)).fit(small_split)
    x = small_split.test.fold_in[:5]
    a, b = rec.score(x), rec.score(x)
    assert torch.equal(a, b)
    rev = CODIGEMRecommender("paper", quick(max_epochs=2), score_mode="reverse").fit(small_split)
    assert rev.score(x).shape == (5, small_split.n_items)
    # the recommender really scores through the reverse chain, not the decoder path
    model = rev.module.model
    xd = torch.as_tensor(x.toarray(), dtype=model.decoder.out.weight.dtype)
    torch.testing.assert_close(torch.as_tensor(rev.score(x)), model.score(xd, mode="reverse"))
    assert not torch.allclose(model.score(xd, mode="reverse"), model.score(xd, mode="decoder"))


def test_trainer_takes_trainable_modules_only(small_split):
    """The trainer calls models through TrainableModule's hooks; a bare nn.Module is refused."""
    with pytest.raises(TypeError, match="TrainableModule"):
        Trainer(torch.nn.Linear(2, 2), small_split, quick())
