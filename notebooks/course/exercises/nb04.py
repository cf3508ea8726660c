"""The exercises of notebook 04_training.ipynb: questions, the library's answers, known mistakes."""

from __future__ import annotations

import math

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
)
