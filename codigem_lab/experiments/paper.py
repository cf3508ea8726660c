"""The paper's reported numbers (Walker et al., KSEM 2022), to place beside ours, labelled as the
paper's wherever they are shown; nothing here is computed. (Table 1, which only notebook 01 shows:
``notebooks/course/paper_table1.py``.)"""

from __future__ import annotations

import pandas as pd

_T2_COLS = ["R@20", "R@50", "N@20", "N@50"]
_T2 = {
    "ml-1m": {
        "pop": (0.1289, 0.2202, 0.1218, 0.1460),
        "bpr": (0.2647, 0.4252, 0.2460, 0.2919),
        "wmf": (0.2390, 0.3994, 0.2206, 0.2675),
        "enmf": (0.2582, 0.4103, 0.2467, 0.2876),
        "neumf": (0.2403, 0.4009, 0.2219, 0.2689),
        "itemknn": (0.2539, 0.4039, 0.2430, 0.2829),
        "multvae": (0.2925, 0.4588, 0.2574, 0.3081),
        "macridvae": (0.2389, 0.3854, 0.2371, 0.2759),
        "codigem": (0.2796, 0.4354, 0.2447, 0.3026),
    },
    "ml-20m": {
        "pop": (0.1463, 0.2473, 0.1138, 0.1422),
        "bpr": (0.2955, 0.4596, 0.2478, 0.2964),
        "wmf": (0.2833, 0.4254, 0.2259, 0.2904),
        "enmf": (0.2234, 0.3398, 0.1941, 0.2561),
        "neumf": (0.3021, 0.4563, 0.2469, 0.2965),
        "itemknn": (0.2843, 0.4264, 0.2469, 0.2909),
        "multvae": (0.3698, 0.5348, 0.3105, 0.3508),
        "macridvae": (0.2996, 0.4358, 0.2704, 0.3005),
        "codigem": (0.3512, 0.4698, 0.3031, 0.3414),
    },
    "amazon-electronics": {
        "pop": (0.0480, 0.0899, 0.0209, 0.0296),
        "bpr": (0.0732, 0.1254, 0.0325, 0.0436),
        "wmf": (0.0655, 0.1118, 0.0281, 0.0378),
        "enmf": (0.0564, 0.0995, 0.0263, 0.0354),
        "neumf": (0.0702, 0.1219, 0.0307, 0.0417),
        "itemknn": (0.0588, 0.0917, 0.0316, 0.0389),
        "multvae": (0.0774, 0.1340, 0.0364, 0.0484),
        "macridvae": (0.0769, 0.1320, 0.0353, 0.0465),
        "codigem": (0.0771, 0.1338, 0.0360, 0.0478),
    },
}

#: Table 3: R@50, N@50 of CODIGEM and its variants I-IV. It names no dataset; its base row equals
#: Table 2's ML-20M CODIGEM row, so ML-20M is our inference.
TABLE3 = pd.DataFrame(
    {
        "base": (0.4698, 0.3414),
        "I (annealing)": (0.4696, 0.3411),
        "II (skip, transition nets)": (0.4627, 0.3359),
        "III (skip, decoder)": (0.4602, 0.3311),
        "IV (multinomial)": (0.2563, 0.1353),
    },
    index=["R@50", "N@50"],
).T


#: Table 4 (dataset and hardware not named): total execution time and epochs for each T.
TABLE4 = pd.DataFrame(
    {"total_s": [824.682, 1212.060, 1861.488, 2416.659, 3384.233], "epochs": [18, 18, 18, 19, 18]},
    index=pd.Index([3, 5, 8, 10, 15], name="T"),
)

#: Table 5 (dataset and hardware not named): seconds per epoch, epochs to converge, total time.
TABLE5 = pd.DataFrame(
    {
        "train_s_per_epoch": [142.35, 53.17, 48.22],
        "eval_s_per_epoch": [124.81, 48.45, 46.67],
        "epochs": [95, 150, 18],
        "total_s": [25380.20, 15243.00, 1708.02],
    },
    index=pd.Index(["macridvae", "multvae", "codigem"], name="model"),
)

#: Display names as the paper prints them (a model not listed shows its registry name).
DISPLAY = {
    "pop": "Pop",
    "bpr": "BPR",
    "wmf": "WMF",
    "enmf": "ENMF",
    "neumf": "NeuMF",
    "itemknn": "Item-KNN",
    "multvae": "Multi-VAE",
    "macridvae": "MacridVAE",
    "codigem": "CODIGEM",
    "multdae": "Multi-DAE",
    "ease": "EASE",
    "diffrec": "DiffRec",
}


def display_name(model: str, variant: str | None = None) -> str:
    """'Multi-VAE' for 'multvae', 'CODIGEM (paper)' for ('codigem', 'paper'): the name the paper
    prints (else the model's registry name), with the variant, if any."""
    return DISPLAY.get(model, model) + (f" ({variant})" if variant else "")


#: The datasets the paper's Table 2 has a block for.
TABLE2_BLOCKS = tuple(_T2)


def table2(dataset: str) -> pd.DataFrame | None:
    """The paper's Table 2 block for a dataset (rows: our model names), or None if it has none."""
    block = _T2.get(dataset)
    return None if block is None else pd.DataFrame(block, index=_T2_COLS).T
