"""The training bar ends full when early stopping ends a run: Jupyter draws a bar closed short of
its total red (tqdm.notebook's rule for an interrupted loop), and early stopping is no error."""

from __future__ import annotations

import pytest
from tqdm.std import tqdm as std_tqdm

import codigem_lab.train as train_module
from codigem_lab.codigem import CODIGEMRecommender
from codigem_lab.train import TrainConfig


class RecordingBar(std_tqdm):
    """tqdm that records, when closed, whether tqdm.notebook would draw it red."""

    closed: list[tuple[str, bool]] = []

    def close(self):
        if not self.disable and not getattr(self, "_recorded", False):
            self._recorded = True
            red = bool(self.total) and self.n < self.total
            RecordingBar.closed.append((self.desc, red))
        super().close()


@pytest.mark.parametrize(("max_epochs", "patience"), [(60, 2), (3, 10)])
def test_training_bar_is_not_red_at_the_normal_end(small_split, monkeypatch, max_epochs, patience):
    RecordingBar.closed = []
    monkeypatch.setattr(train_module, "tqdm", RecordingBar)
    cfg = TrainConfig(max_epochs=max_epochs, patience=patience, seed=3, progress=True)
    result = CODIGEMRecommender("paper", cfg).fit(small_split).result
    assert result.stopped_early == (patience == 2)
    outer = [red for desc, red in RecordingBar.closed if desc.startswith("training")]
    assert outer == [False], RecordingBar.closed
    assert not any(red for _, red in RecordingBar.closed)  # nor any epoch's inner bar
