"""ARP, novelty and coverage against hand-computed values."""

import numpy as np
import pytest
import scipy.sparse as sp

from codigem_lab.metrics import catalogue_coverage, item_popularity, list_popularity


def test_popularity_is_the_training_column_count():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=np.float32))
    assert item_popularity(train).tolist() == [3, 2, 1, 0]


def test_arp_and_novelty_by_hand():
    pop = np.array([4.0, 2.0, 1.0, 0.0])
    top = np.array([[0, 1], [2, 3]])
    out = list_popularity(top, pop, n_users=4)
    assert out["ARP"].tolist() == [3.0, 0.5]
    # -log2(4/4)=0, -log2(2/4)=1 -> 0.5; -log2(1/4)=2 and the unseen item counts once -> 2
    assert out["novelty"] == pytest.approx([0.5, 2.0])


def test_popular_lists_have_higher_arp_and_lower_novelty():
    pop = np.arange(10, 0, -1, dtype=float)
    head, tail = np.array([[0, 1, 2]]), np.array([[7, 8, 9]])
    a, b = list_popularity(head, pop, 10), list_popularity(tail, pop, 10)
    assert a["ARP"][0] > b["ARP"][0] and a["novelty"][0] < b["novelty"][0]


def test_coverage_counts_distinct_items():
    assert catalogue_coverage(np.array([[0, 1], [1, 2]]), 10) == pytest.approx(0.3)
    assert catalogue_coverage(np.array([[0, 1], [0, 1]]), 4) == pytest.approx(0.5)
