"""The one-sentence readings printed under the notebooks' tables (notebooks/course/readings.py)."""

import pandas as pd
from course import readings


def _t2(pop=0.30, paper=0.41, released=0.44, ease=0.46):
    return [
        {"model": "pop", "variant": None, "R@50_mean": pop},
        {"model": "ease", "variant": None, "R@50_mean": ease},
        {"model": "codigem", "variant": "paper", "R@50_mean": paper},
        {"model": "codigem", "variant": "released", "R@50_mean": released},
    ]


def test_table2_reading_ranks_codigem_and_compares_with_pop():
    text = readings.table2_reading(_t2())
    assert "best EASE 0.460" in text
    assert (
        "CODIGEM (released) 0.440, 2nd of 4" in text and "CODIGEM (paper) 0.410, 3rd of 4" in text
    )
    assert "every CODIGEM row is above it" in text and "CODIGEM (paper) +0.110" in text
    worse = readings.table2_reading(_t2(pop=0.42))
    assert "CODIGEM (paper) not" in worse and "every CODIGEM row" not in worse


def test_table3_reading_names_the_variants_equal_to_base():
    rows = [
        {"preset": "paper", "variant": v, "R@50_mean": s, "R@50_std": None, "N@50_mean": s, "N@50_std": None}
        for v, s in [("base", 0.40), ("I (annealing)", 0.40), ("II (skip, forward nets)", 0.40),
                     ("III (skip, decoder)", 0.38), ("IV (multinomial)", 0.42)]
    ]  # fmt: skip
    text = readings.table3_reading(rows)
    assert "I and II equal the base model to the last digit" in text
    assert "III -5.0 %" in text and "IV +5.0 %" in text
    rows[1]["R@50_mean"] = 0.401
    assert "II equal" in readings.table3_reading(rows) and "I +0.2 %" in readings.table3_reading(
        rows
    )


def test_sweep_and_presets_readings():
    rows = [{"beta": b, "R@50_mean": s} for b, s in [(1e-4, 0.40), (0.3, 0.43), (0.9, 0.32)]]
    text = readings.sweep_reading(rows, "beta", reference=1e-4)
    assert "from 0.320 (beta = 0.9) to 0.430 (beta = 0.3)" in text and "spread of 0.110" in text
    assert "0.400 at the paper's beta = 0.0001" in text
    test = pd.DataFrame({"R@50": [0.40, 0.45]}, index=["paper", "released"])
    assert readings.presets_reading(test) == (
        "On screen: the released preset has test R@50 0.450, the paper preset 0.400 "
        "(+0.050 for released)."
    )
