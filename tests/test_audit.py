"""Gradient-flow audit (codigem_lab.audit): what each loss term trains, what reaches the ranking,
and which Table 3 variants can change a ranking under each score mode."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from course.frames import gradient_flow_frame
from course.gradient_flow import audit_recommender
from course.readings import gradient_flow_reading
from course.tables import audit_variants

from codigem_lab.audit import (
    GradientFlowReport,
    audit_codigem,
    codigem_scores_with_grad,
    default_groups,
    explain_variant,
    probe_config,
    ranking_unaffected,
    unaffected_variants,
    variant_effect,
)
from codigem_lab.diffusion.model import CODIGEM, CODIGEMConfig
from codigem_lab.errors import ConfigError

NETS = {"reverse_nets.0", "reverse_nets.1"}
ALL = NETS | {"decoder"}
KL_TERMS = ("reverse_1", "reverse_2", "prior", "forward_entropy_1")
# Table 3's variants, as experiments/studies.VARIANTS spells them (checked below)
VARIANTS = {
    "I": {"anneal_steps": 2000, "anneal_cap": 0.2},
    "II": {"skip_forward": True},
    "III": {"skip_reverse": True},
    "IV": {"likelihood": "multinomial"},
}


@pytest.fixture(scope="module")
def reports() -> dict[tuple[str, str], GradientFlowReport]:
    return {
        (p, m): audit_codigem(p, m) for p in ("paper", "released") for m in ("decoder", "reverse")
    }


# ----------------------------------------------------------------------------- (a) terms
def test_each_term_reaches_its_own_network(reports) -> None:
    paper = reports[("paper", "decoder")]
    assert paper.groups == ("reverse_nets.0", "reverse_nets.1", "decoder")
    assert paper.term_reach["reconstruction"] == {"decoder"}
    assert paper.term_reach["reverse_1"] == {"reverse_nets.0"}  # p(z_1 | z_2): net 1
    assert paper.term_reach["reverse_2"] == {"reverse_nets.1"}
    for t in ("prior", "forward_entropy_1", "forward_entropy_2", "forward_entropy_3"):
        assert paper.term_reach[t] == frozenset()
    inert = {t for t, reached in paper.term_reach.items() if not reached}
    assert inert == {"prior", *(f"forward_entropy_{i}" for i in (1, 2, 3))}
    # released pairing (deviation 2): z_1 is scored under net 2, z_2 under net 1
    rel = reports[("released", "decoder")]
    assert rel.term_reach["reverse_1"] == {"reverse_nets.1"}
    assert rel.term_reach["reverse_2"] == {"reverse_nets.0"}
    assert rel.term_reach["reconstruction"] == {"decoder"}


def test_term_norms_back_the_booleans(reports) -> None:
    r = reports[("paper", "decoder")]
    assert r.term_norms["reconstruction"]["decoder"] > 0
    assert r.term_norms["reconstruction"]["reverse_nets.0"] == 0.0
    assert r.ranking_norms["decoder"] > 0 and r.ranking_norms["reverse_nets.1"] == 0.0


# ---------------------------------------------------------------------------- (b) ranking
@pytest.mark.parametrize("preset", ["paper", "released"])
def test_decoder_scoring_is_reached_by_the_decoder_only(reports, preset) -> None:
    r = reports[(preset, "decoder")]
    assert r.ranking_reach == {"decoder"}
    assert r.ranking_groups == {"decoder"}
    assert r.ranking_terms == ("reconstruction",)


@pytest.mark.parametrize("preset", ["paper", "released"])
def test_reverse_scoring_is_reached_by_the_transition_nets_too(reports, preset) -> None:
    r = reports[(preset, "reverse")]
    assert r.ranking_reach == ALL
    assert set(r.ranking_terms) == {"reconstruction", "reverse_1", "reverse_2"}


def test_T1_has_no_transition_nets_and_reverse_equals_decoder() -> None:
    r = audit_codigem(CODIGEMConfig.preset("paper", n_items=5, T=1), "reverse")
    assert r.groups == ("decoder",) and r.ranking_reach == {"decoder"}


def test_scores_with_grad_are_the_models_scores() -> None:
    torch.manual_seed(0)
    m = CODIGEM(probe_config(CODIGEMConfig.preset("paper", n_items=1, beta=0.05)))
    x = (torch.rand(4, m.config.n_items) < 0.3).float()
    for mode in ("decoder", "reverse"):
        s = codigem_scores_with_grad(m, x, mode)
        assert s.requires_grad
        torch.testing.assert_close(s.detach(), m.score(x, mode=mode))


def test_coupled_groups_join_the_ranking() -> None:
    """(c): a group sharing a loss term with a ranking group can change the ranking too."""
    r = GradientFlowReport(
        model="toy",
        score_mode="decoder",
        groups=("a", "b", "c"),
        term_reach={"t1": frozenset({"a", "b"}), "t2": frozenset({"c"}), "t3": frozenset()},
        ranking_reach=frozenset({"a"}),
        term_norms={},
        ranking_norms={},
    )
    assert r.ranking_groups == {"a", "b"}
    assert r.ranking_terms == ("t1",)


# ------------------------------------------------------------------------- (c) variants
@pytest.mark.parametrize(
    ("mode", "unaffected"),
    [("decoder", {"I", "II"}), ("reverse", set())],
)
def test_table3_variants_under_the_paper_preset(reports, mode, unaffected) -> None:
    r = reports[("paper", mode)]
    got = {name for name, over in VARIANTS.items() if ranking_unaffected(r, over)}
    assert got == unaffected


def test_released_preset_variant_I_is_the_base_model_under_any_scoring(reports) -> None:
    # anneal_overwritten (deviation 3): the KL weight never reaches the loss
    eff = variant_effect("released", VARIANTS["I"], "reverse")
    assert eff.changes_nothing
    assert ranking_unaffected(reports[("released", "reverse")], eff)
    assert not ranking_unaffected(reports[("released", "reverse")], VARIANTS["II"])
    assert ranking_unaffected(reports[("released", "decoder")], VARIANTS["II"])


def test_variant_effects_name_what_changes() -> None:
    ann = variant_effect("paper", VARIANTS["I"], "decoder")
    assert set(KL_TERMS) <= set(ann.changed_terms) and "reconstruction" not in ann.changed_terms
    assert set(ann.changed_gradients) == NETS and not ann.scores_changed
    skip_f = variant_effect("paper", VARIANTS["II"], "decoder")
    assert skip_f.changed_terms == ("reverse_1", "reverse_2")
    assert not skip_f.scores_changed and not skip_f.changed_init
    assert variant_effect("paper", VARIANTS["II"], "reverse").scores_changed
    skip_r = variant_effect("paper", VARIANTS["III"], "decoder")
    assert skip_r.changed_terms == ("reconstruction",) and skip_r.scores_changed
    multi = variant_effect("paper", VARIANTS["IV"], "decoder")
    assert multi.changed_terms == ("reconstruction",) and multi.changed_gradients == ("decoder",)
    # a different init of the decoder alone must count
    init = variant_effect("paper", {"init": "released"}, "decoder")
    assert "decoder" in init.changed_init
    assert not ranking_unaffected(audit_codigem("paper"), init)
    assert variant_effect("paper", {"T": 4}, "decoder").architecture_changed


def test_each_criterion_alone_makes_a_variant_count(reports) -> None:
    from codigem_lab.audit import VariantEffect

    r = reports[("paper", "decoder")]

    def effect(**kw) -> VariantEffect:
        base = dict(
            overrides={"x": 1},
            score_mode="decoder",
            changed_terms=(),
            changed_init=(),
            changed_gradients=(),
            scores_changed=False,
            architecture_changed=False,
        )
        return VariantEffect(**{**base, **kw})

    assert ranking_unaffected(r, effect())
    assert ranking_unaffected(r, effect(changed_terms=("reverse_1",), changed_init=NETS))
    assert not ranking_unaffected(r, effect(scores_changed=True))
    assert not ranking_unaffected(r, effect(changed_terms=("reconstruction",)))
    assert not ranking_unaffected(r, effect(changed_init=("decoder",)))
    assert not ranking_unaffected(r, effect(changed_gradients=("decoder",)))
    assert not ranking_unaffected(r, effect(architecture_changed=True))
    with pytest.raises(ConfigError, match="probed under"):
        ranking_unaffected(reports[("paper", "reverse")], effect())


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second thread only adds contention
    yield
    torch.set_num_threads(before)


def test_the_audits_verdict_holds_in_training(one_thread) -> None:
    """Variants I and II train the very same decoder as the base model; variant III does not."""
    cfg = probe_config(CODIGEMConfig.preset("paper", n_items=1))
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(16, cfg.n_items, generator=gen) < 0.3).double()

    def trained_decoder(over: dict) -> torch.Tensor:
        torch.manual_seed(0)
        m = CODIGEM(dataclasses.replace(cfg, **over)).double()
        opt = torch.optim.Adamax(m.parameters(), lr=1e-2)
        noise = torch.Generator().manual_seed(5)
        for step in range(5):
            opt.zero_grad()
            w = m.config.kl_weight(step * 500)
            m(x, generator=noise, kl_weight=w).loss.backward()
            opt.step()
        return torch.cat([p.detach().flatten() for p in m.decoder.parameters()])

    base = trained_decoder({})
    for name in ("I", "II"):
        torch.testing.assert_close(trained_decoder(VARIANTS[name]), base, rtol=0, atol=0)
    assert not torch.allclose(trained_decoder(VARIANTS["III"]), base)


def test_notes_before_a_study() -> None:
    """What reproduce_table3 warns about (a RankingUnaffectedWarning each) before it trains."""
    notes = unaffected_variants("paper", {"base": {}, **VARIANTS}, label="paper")
    msgs = list(notes.values())
    assert list(notes) == ["I", "II"]
    assert msgs[0].startswith("paper: variant I cannot change the ranking under decoder scoring")
    assert "variant II" in msgs[1] and "decoder" in msgs[1]
    assert unaffected_variants("paper", VARIANTS, "reverse") == {}


def test_study_variants_are_the_ones_tested() -> None:
    from codigem_lab.experiments.studies import VARIANTS as STUDY

    assert sorted(map(str, (v for v in STUDY.values() if v))) == sorted(map(str, VARIANTS.values()))


def test_frame_summary_and_table(reports) -> None:
    f = gradient_flow_frame(reports[("paper", "decoder")])
    assert list(f.columns[:3]) == ["reverse_nets.0", "reverse_nets.1", "decoder"]
    assert f.loc["reconstruction", "decoder"] and not f.loc["reverse_1", "decoder"]
    assert f.loc["ranking (decoder scoring)"].iloc[:3].tolist() == [False, False, True]
    assert f["can change ranking"].tolist()[:3] == [True, False, False]
    text = gradient_flow_reading(reports[("paper", "decoder")])
    assert "the ranking is reached by: decoder\n" in text
    assert "cannot change the ranking: reverse_1, reverse_2" in text
    table = audit_variants("paper", {"base": {}, **VARIANTS})
    assert table["can change ranking"].tolist() == [False, False, True, True]
    assert "cannot" in explain_variant(reports[("paper", "decoder")], VARIANTS["II"], "II")


# -------------------------------------------------------------------------------- others
def test_default_groups_strip_wrappers() -> None:
    from codigem_lab.codigem import CODIGEMModule

    mod = CODIGEMModule(CODIGEMConfig.preset("paper", n_items=6, hidden=4))
    assert list(default_groups(mod)) == ["reverse_nets.0", "reverse_nets.1", "decoder"]


def test_codigem_recommender_and_module(small_split) -> None:
    from codigem_lab.codigem import CODIGEMModule, CODIGEMRecommender

    r = audit_recommender(CODIGEMRecommender("paper", score_mode="reverse"), small_split)
    assert r.score_mode == "reverse" and r.ranking_reach == ALL
    torch.manual_seed(0)
    mod = CODIGEMModule(CODIGEMConfig.preset("paper", n_items=small_split.n_items, hidden=8))
    r = audit_recommender(mod, small_split)
    assert r.ranking_reach == {"decoder"} and r.term_reach["reverse_2"] == {"reverse_nets.1"}


def test_diffrec_report(small_split) -> None:
    from codigem_lab.baselines.diffrec import DiffRec, DiffRecConfig

    rec = DiffRec(DiffRecConfig(steps=5, dims=(16,), emb_size=4))
    r = audit_recommender(rec, small_split)
    assert r.groups == ("emb_layer", "mlp")
    assert r.term_reach == {"loss": {"emb_layer", "mlp"}}
    assert r.ranking_reach == {"emb_layer", "mlp"}  # every reverse step sees the embedding
    assert r.ranking_terms == ("loss",) and all(r.term_reach.values())  # no inert term
    assert "the ranking is reached by: emb_layer, mlp" in gradient_flow_reading(r)


@pytest.mark.parametrize("name", ["bpr", "neumf", "multvae"])
def test_other_trained_models_are_audited(small_split, name) -> None:
    from codigem_lab.models import build_model

    r = audit_recommender(build_model(name), small_split)
    assert r.term_reach == {"loss": frozenset(r.groups)}  # one loss trains every group
    assert r.ranking_reach == frozenset(r.groups)
    if name != "multvae":  # user-embedding models: scored as the training users they are
        assert {"user", "item"} <= set(r.groups) or {"user_gmf", "item_gmf"} <= set(r.groups)


def test_probes_restore_the_thread_count() -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        audit_codigem("paper")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bad_inputs() -> None:
    with pytest.raises(ConfigError, match="score_mode"):
        audit_codigem("paper", "prior")
    with pytest.raises(ConfigError, match="cannot audit"):
        audit_recommender(object(), torch.zeros(2, 3))
