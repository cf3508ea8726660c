"""The exercises of notebook 04_training.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import math

from .answers import run_changed
from .exercise import Exercise, Mistake


def _decoder_input_ref(x):
    """z_1 as decoder scoring feeds it to the decoder: the mean of q(z_1 | x), paper preset."""
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig
    from codigem_lab.diffusion.schedule import q_marginal_sample

    x = torch.as_tensor(x, dtype=torch.float64)
    m = CODIGEM(CODIGEMConfig.preset("paper", n_items=x.shape[-1], hidden=2, n_layers=2)).double()
    return q_marginal_sample(m.scale_input(x), float(m.schedule.alpha_bar[0]))


def _decoder_input_probes() -> list[tuple]:
    import torch

    g = torch.Generator().manual_seed(2)
    return [((torch.rand(3, 11, generator=g) < 0.3).double(),)]


def _decoder_params(D: int) -> int:
    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    return sum(
        p.numel() for p in CODIGEM(CODIGEMConfig.preset("paper", n_items=D)).decoder.parameters()
    )


def _n_batches(n_users: int, batch_size: int) -> int:
    import numpy as np

    from codigem_lab.distributed import UserBatchSampler

    return UserBatchSampler(n_users, batch_size, np.random.default_rng(0)).n_batches


def batch_loss_as_asked(model, x01):
    """The change exercise 04.predict_decoder_only asks for: the reconstruction term alone."""
    return -model(x01).reconstruction


def _library_loss(model, x01):
    return model(x01).loss


def _tiny_run(batch_loss):
    """Train a small paper-preset CODIGEM on a fixed toy batch with ``batch_loss``; return its
    decoder-scoring scores of the batch (the same seed, so the same weights and noise, each run)."""
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    g = torch.Generator().manual_seed(7)
    x = (torch.rand(32, 24, generator=g) < 0.25).double()
    torch.manual_seed(0)
    model = CODIGEM(CODIGEMConfig.preset("paper", n_items=24, hidden=16, n_layers=3)).double()
    opt = torch.optim.Adamax(model.parameters(), lr=1e-2)
    for _ in range(25):
        loss = batch_loss(model, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.score(x)


def _decoder_only_precheck(batch_loss) -> str | None:
    import torch

    from codigem_lab.diffusion import CODIGEM, CODIGEMConfig

    torch.manual_seed(0)
    model = CODIGEM(CODIGEMConfig.preset("paper", n_items=24, hidden=16, n_layers=3)).double()
    x = (torch.rand(8, 24, generator=torch.Generator().manual_seed(8)) < 0.25).double()
    values = []
    for fn in (batch_loss, _library_loss, batch_loss_as_asked):
        torch.manual_seed(1)  # the same noise for each
        got, why = run_changed("batch_loss", fn, model, x)
        if why:
            return why
        values.append(float(torch.as_tensor(got).detach()))
    if math.isclose(values[0], values[1], rel_tol=1e-9):
        return "batch_loss still returns the whole -ELBO: change its line to return -model(x01).reconstruction."
    if not math.isclose(values[0], values[2], rel_tol=1e-6):
        return "batch_loss now returns something other than -model(x01).reconstruction: change only that line."
    return None


def _decoder_only_outcome(batch_loss) -> str:
    """'same' when the changed loss trains the decoder to the same scores (no choice matches
    'different', which the asked change cannot give unless the library broke)."""
    import torch

    ours, lib = _tiny_run(batch_loss), _tiny_run(_library_loss)
    return "same" if torch.allclose(ours, lib, rtol=1e-6, atol=1e-9) else "different"


EXERCISES = (
    Exercise(
        "04.batches",
        "How many batches of 200 users make one training epoch on the split loaded above?",
        "integer",
        lambda split: _n_batches(split.n_train_users, 200),
        "ceil(training users / 200): the last batch holds the remainder.",
        "Training users divided by the batch size; what happens to the remainder?",
        (
            Mistake(
                lambda split: split.n_train_users // 200,
                "Rounded down: the last, smaller batch is still trained on.",
            ),
            Mistake(
                lambda split: math.ceil(
                    (split.n_train_users + split.valid.n_users + split.test.n_users) / 200
                ),
                "Only training users are batched; validation and test users are never trained on (strong protocol).",
            ),
        ),
        context=("split",),
    ),
    Exercise(
        "04.stop_epoch",
        "Early stopping with patience 10, at most 100 epochs: the best validation Recall@50 came at "
        "epoch 75 and never improved after. After which epoch does training stop?",
        "integer",
        lambda: min(75 + 10, 100),
        "Training continues 10 more epochs after the best one to be sure it is the best, then stops at 85 (and restores epoch 75's weights).",
        "How many epochs without improvement does patience 10 allow?",
        (
            Mistake(
                lambda: 75,
                "Training cannot know epoch 75 is the best until 10 epochs have passed without improvement.",
            ),
            Mistake(
                lambda: 100,
                "Early stopping ends training before the cap: 10 epochs after the best one.",
            ),
        ),
    ),
    Exercise(
        "04.decoder_params",
        "How many parameters (weights, biases and PReLU slopes) does the paper's decoder have for "
        "D = 100 items (M = 200, six Linear layers)?",
        "integer",
        lambda: _decoder_params(100),
        "Linear(D, M) + 4 Linear(M, M) + Linear(M, D), each with a bias, plus one slope per PReLU (5).",
        "Count each Linear layer's weight matrix and bias, and the five PReLUs' single slopes.",
        (
            Mistake(
                lambda: _decoder_params(100) - 5,
                "Each of the five PReLUs has one learnable slope: add 5.",
            ),
            Mistake(
                lambda: 100 * 200 + 4 * 200 * 200 + 200 * 100,
                "The biases (and the PReLU slopes) are parameters too.",
            ),
        ),
    ),
    Exercise(
        "04.decoder_input",
        "Write decoder_input(x) that returns the z_1 the decoder reads when the paper preset "
        "(beta = 1e-4) scores a batch x of 0/1 rows by decoder scoring.",
        "function",
        _decoder_input_ref,
        "z_1 = sqrt(alpha_bar_1) (2x - 1), the mean of q(z_1 | x) on the rescaled input, with alpha_bar_1 = 1 - beta.",
        "Two steps: the paper's input scaling, then the mean of q(z_1 | x) (no noise at test time).",
        (
            Mistake(
                lambda x: math.sqrt(1 - 1e-4) * x,
                "The paper rescales x from {0, 1} to {-1, +1} first (2x - 1); only the released code keeps {0, 1}.",
            ),
            Mistake(
                lambda x: 2 * x - 1,
                "Almost: z_1's mean is also shrunk by sqrt(alpha_bar_1) = sqrt(1 - beta).",
            ),
        ),
        probes=lambda: _decoder_input_probes(),
        rtol=1e-9,
    ),
    Exercise(
        "04.predict_decoder_only",
        "Predict first, then change one line: train with the reconstruction term alone (batch_loss "
        "returns -model(x01).reconstruction instead of model(x01).loss, the whole -ELBO). With the same "
        "seed, are the decoder-scoring recommendations afterwards better, worse, or the same?",
        "choice",
        lambda batch_loss: _decoder_only_outcome(batch_loss),
        "The same, to rounding: the decoder appears only in ln p(x | z_1), so the KL terms send it no "
        "gradient, and with the same noise its updates are the same. The transition networks stop "
        "learning, but decoder scoring never reads them (the library's decoder_only switch uses this).",
        "Which terms of the ELBO contain the decoder's weights?",
        (
            Mistake(
                lambda batch_loss: "worse",
                "Dropping the KL terms loses nothing the decoder learns from: they contain only the "
                "transition networks, which decoder scoring never uses.",
            ),
            Mistake(
                lambda batch_loss: "better",
                "The KL terms do not compete with the decoder for anything: its gradient is the "
                "reconstruction term's either way.",
            ),
        ),
        context=("batch_loss",),
        choices=("better", "worse", "same"),
        precheck=_decoder_only_precheck,
    ),
)
