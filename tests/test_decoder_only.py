"""The decoder-only fast path: same decoder weights and metrics, bit for bit, as the full model.

Under decoder scoring only the decoder reaches the ranking; the trainer keys each batch's noise
by (seed, epoch, batch) and draws eps_1 first, so training the decoder alone on z_1 sees exactly
the full model's z_1 and gets exactly its gradient. These tests compare the two after several
epochs on small synthetic data, for the presets and the variants that could break it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from codigem_lab.codigem import CODIGEMModule, CODIGEMRecommender
from codigem_lab.diffusion.model import CODIGEMConfig
from codigem_lab.errors import ConfigError
from codigem_lab.train import TrainConfig, batch_key

QUICK = TrainConfig(max_epochs=4, patience=10, progress=False, seed=5)


def _pair(split, variant="released", cfg=QUICK, **overrides):
    full = CODIGEMRecommender(variant, cfg, **overrides).fit(split)
    fast = CODIGEMRecommender(variant, cfg, decoder_only=True, **overrides).fit(split)
    return full, fast


def _decoder_state(rec):
    return {k: v for k, v in rec.module.state_dict().items() if k.startswith("model.decoder.")}


def _assert_same_decoder(full, fast):
    a, b = _decoder_state(full), _decoder_state(fast)
    assert a.keys() == b.keys() and a
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs by {float((a[k] - b[k]).abs().max()):.3g}"
    assert full.result.test.metrics == fast.result.test.metrics
    assert full.result.valid.metrics == fast.result.valid.metrics
    assert full.result.best_epoch == fast.result.best_epoch
    hf, hd = full.result.history, fast.result.history
    np.testing.assert_array_equal(hf["reconstruction"], hd["reconstruction"])
    np.testing.assert_array_equal(hf["R@50"], hd["R@50"])


@pytest.mark.parametrize(
    "variant, overrides",
    [
        ("released", {}),
        ("paper", {}),
        ("paper", {"anneal_steps": 20, "anneal_cap": 0.5, "skip_forward": True}),
        ("paper", {"skip_reverse": True, "likelihood": "multinomial", "T": 5}),
        ("paper", {"dropout": 0.2}),
    ],
)
def test_decoder_only_is_bit_identical_to_full_model(small_split, variant, overrides):
    full, fast = _pair(small_split, variant, **overrides)
    _assert_same_decoder(full, fast)
    # the transition nets are not trained on the fast path (they keep their init)
    torch.manual_seed(QUICK.seed)
    init = CODIGEMRecommender(variant, QUICK, **overrides).build(small_split).state_dict()
    fast_state = fast.module.state_dict()
    rev = [k for k in init if k.startswith("model.reverse_nets.")]
    assert rev and all(torch.equal(init[k], fast_state[k]) for k in rev)
    assert not all(torch.equal(init[k], full.module.state_dict()[k]) for k in rev)


def test_decoder_only_bf16_and_weight_decay_still_identical(small_split):
    cfg = dataclasses.replace(QUICK, max_epochs=3, precision="bf16", weight_decay=1e-4)
    _assert_same_decoder(*_pair(small_split, "released", cfg))


def test_decoder_only_history_columns(small_split):
    _, fast = _pair(small_split, "paper", dataclasses.replace(QUICK, max_epochs=2))
    h = fast.result.history
    for col in (
        "loss",
        "reconstruction",
        "elbo",
        "kl",
        "prior",
        "reverse_1",
        "reverse_2",
        "forward_entropy_1",
        "forward_entropy_3",
        "R@50",
    ):
        assert col in h, col
    np.testing.assert_array_equal(h["loss"], -h["reconstruction"])
    assert "validation" in fast.result.extra["history_terms"]


def test_decoder_only_refuses_what_it_cannot_reproduce():
    with pytest.raises(ConfigError, match="score_mode='decoder'.*transition nets"):
        CODIGEMRecommender("paper", QUICK, score_mode="reverse", decoder_only=True)
    with pytest.raises(ConfigError, match="score_noise"):
        CODIGEMRecommender("paper", QUICK, score_noise=True, decoder_only=True)
    with pytest.raises(ConfigError, match="True or False"):
        CODIGEMRecommender("paper", QUICK, decoder_only="yes")
    m = CODIGEMModule(CODIGEMConfig.preset("paper", n_items=8), score_mode="reverse")
    with pytest.raises(ConfigError, match="score_mode='decoder'"):
        m.set_decoder_only(True)


def test_noise_is_keyed_by_batch_not_by_history(small_split):
    """Batch b's noise depends on (seed, epoch, b) only; the first draw is eps_1."""
    assert batch_key(0, 0, 1, 1) != batch_key(0, 0, 1, 2) != batch_key(0, 0, 2, 1)
    assert batch_key(0, 0, 1, 1) != batch_key(1, 0, 1, 1) != batch_key(0, 1, 1, 1)
    m = CODIGEMModule(CODIGEMConfig.preset("paper", n_items=small_split.n_items))
    x = torch.from_numpy(small_split.train[:8].toarray())
    m.seed_noise(batch_key(0, 0, 1, 3))
    a = m.model(x, generator=m._noise).latents
    m.seed_noise(batch_key(0, 0, 1, 1))
    m.model(x, generator=m._noise)  # an unrelated batch in between
    m.seed_noise(batch_key(0, 0, 1, 3))
    b = m.model(x, generator=m._noise).latents
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_decoder_only_cli_flag():
    from codigem_lab.cli import build_parser
    from codigem_lab.cli_train import spec_from_args

    args = build_parser().parse_args(["train", "--dataset", "synthetic", "--decoder-only"])
    assert spec_from_args(args).params["decoder_only"] is True
    plain = build_parser().parse_args(["train", "--dataset", "synthetic"])
    assert "decoder_only" not in spec_from_args(plain).params  # run keys unchanged without it
    other = build_parser().parse_args(["train", "--model", "multivae", "--decoder-only"])
    with pytest.raises(ConfigError, match="decoder-only"):
        spec_from_args(other)
    rev = build_parser().parse_args(["train", "--decoder-only", "--score-mode", "reverse"])
    with pytest.raises(ConfigError, match="score_mode='decoder'"):
        spec_from_args(rev)
