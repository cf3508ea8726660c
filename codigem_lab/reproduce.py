"""``codigem-lab reproduce``: a study's files, and ``reproduce all``, every committed results file
made again at one code version from the command stored in it (docs/reproduce.md)."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import multiprocessing
import shlex
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from codigem_lab.data.spec import DataSpec
from codigem_lab.errors import ConfigError
from codigem_lab.experiments.cache import run_label
from codigem_lab.experiments.common import ExperimentConfig, NeedRuns, planning, run_specs
from codigem_lab.experiments.registry import STUDIES, Study, StudyOutput
from codigem_lab.experiments.studies import TIMING_EPOCHS
from codigem_lab.experiments.table2 import parse_models
from codigem_lab.models import model_class
from codigem_lab.neural import NeuralRecommender
from codigem_lab.options import add_options, given_values, values_from_args
from codigem_lab.paths import results_root

#: Files remade at an older code version on purpose: results/kept-stale.json (file -> reason).
KEPT_STALE = "kept-stale.json"
#: Seconds per epoch of every Table 2 model, measured (benchmarks/bench_models_ml1m.py).
EPOCH_BENCH = "bench/models-ml1m-raw.json"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of ``reproduce`` (one study's, and ``all``'s)."""
    names = "; ".join(s.title for s in STUDIES.values())
    p.add_argument("what", choices=[*STUDIES, "all"], help=f"{names}; all: every results file")
    add_options(p, DataSpec.OPTIONS + DataSpec.SPLIT_OPTIONS)
    add_options(p, ExperimentConfig.OPTIONS)
    own = {o.dest: o for study in STUDIES.values() for o in study.options}  # each once
    add_options(p, own.values())
    p.add_argument("--out", default="results", help="folder for the table files")
    p.add_argument("--no-save", action="store_true", help="print only")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true", help="end with the table as one JSON line")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (runs cached, runs to train, estimate); train and write nothing",
    )
    p.add_argument("--workers", type=int, default=2, help="all: worker processes (1 thread each)")


def config_from_args(args: argparse.Namespace) -> ExperimentConfig:
    """The ExperimentConfig (with the study's own options in ``extra``) a command line describes."""
    if args.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {args.seeds}")
    values = values_from_args(args, ExperimentConfig.OPTIONS)
    values["seeds"] = tuple(range(args.seeds))
    own = given_values(args, STUDIES[args.what].options)
    mine = {o.dest for o in STUDIES[args.what].options}
    for study in STUDIES.values():  # another study's option would be dropped without a word
        for o in given_options(args, study.options):
            if o.dest not in mine:
                owners = [s.name for s in STUDIES.values() if o in s.options]
                raise ConfigError(
                    f"{o.flag} is not an option of `reproduce {args.what}`; it is one of "
                    f"`reproduce {' / '.join(owners)}`"
                )
    extra = {dest: value for dest, value in own.items() if value is not None}
    return ExperimentConfig(
        data_spec=DataSpec.from_args(args), progress=not args.no_progress, extra=extra, **values
    )


def save_output(study: Study, cfg: ExperimentConfig, out: StudyOutput, root: str | Path) -> list:
    """Write a study's files under ``root/<study>/`` (JSON, .md, .csv, per-user values, figures);
    its command names ``--out`` where ``root`` is not results/."""
    from codigem_lab.viz.studies import save_figure, study_figures

    if Path(root) != Path("results"):
        command, sep, note = out.result.command.partition("  # note")
        out.result.command = f"{command} --out {shlex.quote(str(root))}{sep}{note}"
    folder, stem = Path(root) / study.name, study.stem(cfg)
    paths = out.result.save(folder, stem)
    for fig, suffix in study_figures(study.name, out, cfg.data_spec.name):
        paths += save_figure(fig, folder / f"{stem}-{suffix}")
    return paths


# ==================================================================================== the plan
@dataclass(frozen=True)
class PlanItem:
    """One committed results file and how ``reproduce all`` makes it again."""

    file: Path  # the results JSON it remakes
    results: Path  # the results folder it lies in
    study: Study
    cfg: ExperimentConfig
    out: Path  # the --out folder it is written under
    doc: dict  # the committed file, for the estimate


def parse_command(command: str) -> argparse.Namespace:
    """The parsed flags of a stored ``codigem-lab [--threads N] reproduce ...`` command."""
    words = shlex.split(command, comments=True)
    p = argparse.ArgumentParser(prog="codigem-lab reproduce", exit_on_error=False)
    add_arguments(p)
    try:
        return p.parse_args(words[words.index("reproduce") + 1 :])
    except (ValueError, argparse.ArgumentError) as exc:
        raise ConfigError(f"cannot read the stored command {command!r}: {exc}") from None


def results_plan(
    results: Path | None = None,
    out: str | Path = "results",
    overrides: dict | None = None,
    data: dict | None = None,
) -> list[PlanItem]:
    """An item per results table under ``results`` (default: the committed ones), from its stored
    command, written under ``out``; ``overrides`` and ``data`` replace stored fields."""
    results = Path(results or results_root())
    overrides = {"cache_root": None, "progress": False, **(overrides or {})}
    items: list[PlanItem] = []
    for path in sorted(results.rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        command = str(doc.get("command")) if isinstance(doc, dict) else ""
        if not (command.startswith("codigem-lab") and " reproduce " in command):
            continue
        args = parse_command(doc["command"])
        study, cfg = STUDIES[args.what], config_from_args(args)
        made = study.results_path(cfg, results.parent / args.out)
        if made != path:
            raise ConfigError(
                f"{path}: the command stored in it writes {made}; add the --out that puts it here"
            )
        cfg = dataclasses.replace(cfg, **overrides)
        if data and cfg.data_spec.dataset == "published":
            continue
        if data:
            reset = {"source": None, "preset": None} if "dataset" in data else {}
            cfg = dataclasses.replace(
                cfg, data_spec=dataclasses.replace(cfg.data_spec, **reset, **data)
            )
        rel = made.parent.parent.relative_to(results)
        items.append(PlanItem(path, results, study, cfg, Path(out) / rel, doc))
    return items


def given_options(args: argparse.Namespace, options) -> list:
    """The options among ``options`` that the command line set to other than their default."""
    given = given_values(args, options)
    return [o for o in options if o.dest in given]


def named_flags(args: argparse.Namespace) -> set[str]:
    """The ``--flags`` the command line named (``args.argv``, set by the CLI's ``main``)."""
    return {w.split("=", 1)[0] for w in getattr(args, "argv", None) or [] if w.startswith("--")}


def named_values(args: argparse.Namespace, options) -> dict:
    """``{dest: value}`` for the options the command line named, even at their default value
    (``--dataset synthetic`` replaces a stored ``--dataset csv``), and for those set to other
    than their default."""
    named = named_flags(args)
    said = {
        o.dest
        for o in options
        if o.flag in named or (o.kind == "flag" and "--no-" + o.flag[2:] in named)
    }
    values = {o.dest: getattr(args, o.dest) for o in options if o.dest in said}
    return {**values, **given_values(args, options)}


def changed_flags(args: argparse.Namespace) -> tuple[str, ...]:
    """The data and training flags given to ``reproduce all``: they replace the stored ones."""
    options = [*DataSpec.OPTIONS, *ExperimentConfig.OPTIONS]
    return tuple(o.flag for o in options if o.dest in named_values(args, options))


def plan_for(args: argparse.Namespace) -> list[PlanItem]:
    """``reproduce all``'s plan: the committed files, with the flags given here replacing theirs."""
    overrides = named_values(args, ExperimentConfig.OPTIONS)
    if "seeds" in overrides:
        overrides["seeds"] = tuple(range(args.seeds))
    data = named_values(args, DataSpec.OPTIONS)
    return results_plan(out=args.out, overrides=overrides, data=data)


def _inside(b: PlanItem, a: PlanItem) -> bool:
    """Whether ``b``'s runs are among ``a``'s: the same study and settings, fewer seeds/models."""

    def bare(c: ExperimentConfig) -> ExperimentConfig:
        return dataclasses.replace(c, seeds=(), extra={**c.extra, "models": None})

    def models(c: ExperimentConfig) -> set:
        return set(parse_models(c.extra.get("models")))

    return (
        a is not b
        and a.study is b.study
        and set(b.cfg.seeds) <= set(a.cfg.seeds)
        and models(b.cfg) <= models(a.cfg)
        and bare(a.cfg) == bare(b.cfg)
    )


def _recorded_s(doc: dict) -> float:
    """The training + validation seconds a results file records (else its wall time)."""
    if doc.get("compute_s") is None:
        return doc.get("wall_s") or 0.0
    return doc["compute_s"] + (doc.get("tuning_compute_s") or 0.0)


def _timing_s(doc: dict) -> float:
    """A timed study's timing runs: TIMING_EPOCHS epochs of each row's full and fast path."""
    total = 0.0
    for r in doc.get("rows") or []:
        full = (r.get("train_s_per_epoch") or 0) + (r.get("eval_s_per_epoch") or 0)
        fast = r.get("fast_train_s_per_epoch")
        total += full + ((fast or 0) + (r.get("eval_s_per_epoch") or 0) if fast else 0)
    return TIMING_EPOCHS * total or (doc.get("wall_s") or 0.0)


def bench_data(cfg: ExperimentConfig) -> dict:
    """What makes per-epoch seconds comparable between runs: the data and its protocol."""
    return {k: getattr(cfg.data_spec, k) for k in ("dataset", "source", "preset", "protocol")}


def _full_model(cfg: ExperimentConfig) -> bool:
    """Whether the study's CODIGEM runs train every network (else: the decoder-only fast path)."""
    return cfg.score_mode != "decoder" or cfg.full_model


def _epoch_label(row: dict, cfg: ExperimentConfig) -> str:
    """A results row's model as the epoch benchmark names it (CODIGEM: ``:full`` if not fast)."""
    model = row.get("model") or "codigem"
    variant = row.get("variant") if row.get("model") else row.get("preset", "paper")
    label = f"{model}:{variant}" if variant else model
    return label + (":full" if model == "codigem" and _full_model(cfg) else "")


def _row_epochs(row: dict, n_seeds: int) -> float | None:
    """The epochs a results row records over its runs (None: an older file without them)."""
    if (row.get("budget") or {}).get("epochs"):
        return float(sum(row["budget"]["epochs"]))
    mean = row.get("epochs", row.get("epochs_mean"))
    return None if mean is None else mean * int(row.get("seeds") or n_seeds)


def _measured_s(it: PlanItem, bench: dict | None) -> float | None:
    """The benchmark's CPU seconds per epoch x the epochs each run of the file records; None
    where the file's data differ from the benchmark's or a row records no epochs."""
    if bench is None or bench.get("data") != bench_data(it.cfg):
        return None
    per = _per_epoch_s(bench)
    total = 0.0
    for row in it.doc.get("rows") or []:
        epochs, label = _row_epochs(row, len(it.cfg.seeds)), _epoch_label(row, it.cfg)
        if (
            epochs is None
            or label not in per
            or it.cfg.precision_for(label.split(":")[0]) != "fp32"
        ):
            return None  # no epochs, no benchmark for the model, or not the benchmark's fp32
        total += epochs * per[label]
    return total + sum(
        (len(tried) - 1) * per.get(m, 0.0) for m, tried in (it.doc.get("tuning") or {}).items()
    )


def _epoch_bench(items: list[PlanItem]) -> dict | None:
    """The committed epoch benchmark beside the items' results (None where there is none)."""
    return _epoch_bench_at(items[0].results) if items else None


def _epoch_bench_at(results: Path) -> dict | None:
    """The epoch benchmark in the results folder ``results`` (None where there is none)."""
    path = results / EPOCH_BENCH
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _per_epoch_s(bench: dict | None) -> dict[str, float]:
    """The epoch benchmark's CPU seconds per epoch, by model label ({} without a benchmark)."""
    return {k: v["epoch_cpu_s"] for k, v in (bench or {}).get("models", {}).items()}


def estimate(items: list[PlanItem], workers: int) -> list[dict]:
    """Per item: its runs and the minutes it adds, shared by the workers (docs/reproduce.md)."""
    bench = _epoch_bench(items)
    rows = []
    for it in items:
        doc = it.doc
        n_seeds = len(doc.get("seeds") or [0])
        counted = sum(int(r.get("seeds") or n_seeds) for r in doc.get("rows") or [])
        counted += sum(len(t) - 1 for t in (doc.get("tuning") or {}).values())
        twin = next((o for o in items if _inside(it, o) and not _inside(o, it)), None)
        recorded, measured = _recorded_s(doc) / 60, None
        if it.study.timed:
            minutes, how = _timing_s(doc) / 60, "last, alone (its other runs: shared)"
            old = minutes
        elif twin is not None:
            minutes, old, how = 0.0, 0.0, f"its runs are those of {twin.file.name}"
        else:
            old, measured = recorded / workers, _measured_s(it, bench)
            if measured is not None:
                measured /= 60
                minutes, how = measured / workers, f"pool of {workers}, measured"
            else:
                minutes, how = recorded / workers, f"pool of {workers}, recorded"
        rows.append(
            {
                "study": it.study.name,
                "file": it.file.relative_to(it.results.parent).as_posix(),
                "runs": doc.get("runs") or f"~{counted}",
                "recorded_min": recorded,
                "measured_min": measured,
                "minutes": minutes,
                "recorded_est_min": old,
                "how": how,
            }
        )
    return rows


def plan_text(
    items: list[PlanItem], workers: int, out: str | Path | None = None, changed: tuple = ()
) -> str:
    """The ``--dry-run`` table: per results file, its runs and estimated minutes; the total.
    ``out``: the --out folder given; ``changed``: the flags given that replace the stored ones
    (the estimate prices the stored settings, not these)."""
    rows = estimate(items, workers)
    lines = [
        f"reproduce all: {len(items)} results files, {workers} worker process(es), one torch "
        "thread each; timed studies last, alone",
        f"{'study':<13} {'file':<70} {'runs':>5} {'recorded':>9} {'measured':>9} {'est. min':>9}"
        "  how",
    ]
    for r in rows:
        measured = "-" if r["measured_min"] is None else f"{r['measured_min']:.1f}"
        lines.append(
            f"{r['study']:<13} {r['file']:<70} {r['runs']!s:>5} {r['recorded_min']:>9.1f} "
            f"{measured:>9} {r['minutes']:>9.1f}  {r['how']}"
        )
    total = sum(r["minutes"] for r in rows)
    lines.append(
        f"total: {total:.0f} min estimated: per file, results/{EPOCH_BENCH}'s CPU seconds per "
        "epoch (one torch thread) x the epochs its runs record, where it records them on that "
        "benchmark's data, else its recorded training + validation seconds (else its wall time, "
        "made on a machine shared with other jobs); divided among the workers; '~': runs "
        "counted from the file's rows."
    )
    lines.append(
        f"from the recorded compute alone: {sum(r['recorded_est_min'] for r in rows):.0f} min "
        f"({sum(r['recorded_min'] for r in rows):.0f} min recorded)."
    )
    if items and out is not None and Path(out).resolve() != items[0].results.resolve():
        lines.append(
            f"written under {out} (--out), each at its path below results/: the committed files "
            "are not touched"
        )
    if changed:
        lines.append(
            f"the flags given ({', '.join(changed)}) replace the stored ones: the minutes above "
            "price the committed files' settings, not these"
        )
    return "\n".join(lines)


def study_plan_text(study: Study, cfg: ExperimentConfig, out: str | Path = "results") -> str:
    """``reproduce <study> --dry-run``: the file it would write, the runs it reads that the cache
    holds and those it would train, with an upper bound on their minutes; trains and writes
    nothing."""
    plan, made = _dry_run(study, cfg)
    complete = made is not None  # else it stopped at the first run it lacks: later reads unknown
    missing = list({s.key(): s for s in plan.missing}.values())
    lines = [
        f"reproduce {study.name}, dry run (nothing trained, nothing written): it writes "
        f"{study.results_path(cfg, Path(out))}",
        f"in the result cache ({cfg.cache().root}): {len(plan.records)} of the runs it reads",
    ]
    if not missing:
        lines.append("to train: none; run it without --dry-run to write the file from the cache")
        return "\n".join(lines)
    counts: dict[str, int] = {}
    for spec in missing:
        name = run_label(spec).rsplit(" seed", 1)[0]
        counts[name] = counts.get(name, 0) + 1
    lines.append(
        f"to train: {len(missing)} run(s): " + ", ".join(f"{m} x{n}" for m, n in counts.items())
    )
    if not complete:
        lines.append(
            "and then the runs it reads once these exist (e.g. a timed study's timing runs): "
            "run the dry run again after training to see them"
        )
    bench = _epoch_bench_at(results_root())
    per = _per_epoch_s(bench)
    labels = {_run_bench_label(s) for s in missing}
    if bench is not None and bench.get("data") == bench_data(cfg) and labels <= set(per):
        minutes = sum(_expected_s(s, per) for s in missing) / 60
        lines.append(
            f"budget: ~{minutes:.0f} min on one torch thread if every run trained its whole "
            f"epoch budget at results/{EPOCH_BENCH}'s seconds per epoch (early stopping ends "
            "most runs sooner)"
        )
    else:
        lines.append(
            f"no estimate: results/{EPOCH_BENCH} times other data or other models than these runs"
        )
    return "\n".join(lines)


# ================================================================================= running it
def _expected_s(spec, per: dict) -> float:
    """A run's expected seconds, so that the pool starts the longest first: the epoch benchmark's
    CPU seconds per epoch for its model x its epoch budget (a closed-form model: one fit)."""
    neural = issubclass(model_class(spec.model), NeuralRecommender)
    return per.get(_run_bench_label(spec), 1.0) * (spec.train.max_epochs if neural else 1)


def _run_bench_label(spec) -> str:
    """A run's model as the epoch benchmark names it (CODIGEM: ``:full`` unless decoder-only)."""
    label = spec.model + (f":{spec.variant}" if spec.variant else "")
    if spec.model == "codigem" and not spec.params.get("decoder_only"):
        label += ":full"
    return label


def _longest(queue: dict, per: dict) -> str:
    """The key of the waiting run expected to take longest (:func:`_expected_s`)."""
    return max(queue, key=lambda k: _expected_s(queue[k], per))


def _train(spec, root: str | None, keep_stale: bool, keep_best: bool) -> str:
    """A worker's job: one run into the shared result cache (its key when stored)."""
    from codigem_lab.experiments.cache import ResultCache

    with redirect_stdout(io.StringIO()):  # the cache's notes, once per run: noise here
        run_specs([spec], ResultCache(root, keep_stale, keep_best), progress=False)
    return spec.key()


def _dry_run(study: Study, cfg: ExperimentConfig, timing: bool = True):
    """Run a study dry: its plan (runs used, runs missing) and its output when nothing was;
    ``timing`` False: a timed study's timing runs are not planned (the pool leaves them out)."""
    with planning(timing=timing) as plan, redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return plan, study.execute(cfg)
        except NeedRuns:
            return plan, None


def _unmark_stale(item: PlanItem, written: Path) -> None:
    """A kept-stale file written again where it lies is stale no longer."""
    listed = item.results / KEPT_STALE
    if written.resolve() != item.file.resolve() or not listed.exists():
        return
    kept = json.loads(listed.read_text(encoding="utf-8"))
    rel = item.file.relative_to(listed.parent).as_posix()
    if kept.pop(rel, None) is not None:
        listed.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _write(item: PlanItem, out: StudyOutput, plan, trained: set, start: float, how: str) -> dict:
    out.result.notes.append(f"Written by `codigem-lab reproduce all`: {how}.")
    save_output(item.study, item.cfg, out, item.out)
    written = item.study.results_path(item.cfg, item.out)
    _unmark_stale(item, written)
    made_now = trained | {k for k, r in plan.records.items() if not r.from_cache}
    return {
        "study": item.study.name,
        "file": written.as_posix(),
        "remakes": item.file.relative_to(item.results.parent).as_posix(),
        "how": how,
        "runs": len(plan.records),
        "trained": len(made_now & set(plan.records)),
        "compute_s": plan.compute_s(),
        "done_s": time.perf_counter() - start,
    }


def run_plan(items: list[PlanItem], workers: int = 2, progress: bool = True) -> dict:
    """Make every item's files (docs/reproduce.md; ``workers`` 1: in this process); returns the
    wall time and, per file, its runs, compute and when it was written."""
    import torch

    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    start, threads = time.perf_counter(), torch.get_num_threads()
    torch.set_num_threads(1)
    cfg0 = items[0].cfg if items else ExperimentConfig()
    cache = (cfg0.cache_root, cfg0.keep_stale, cfg0.keep_best)
    minutes = [r["minutes"] for r in estimate(items, workers)]  # the longest studies first
    per = _per_epoch_s(_epoch_bench(items))
    order = sorted(range(len(items)), key=lambda n: -minutes[n])
    pooled = [items[n] for n in order]  # a timed study's other runs (Table 5's convergence) too
    studies = tqdm(total=len(items), desc="studies", disable=not progress, position=0)
    runs = tqdm(total=0, desc="runs", unit="run", disable=not progress, position=1)
    how = f"its runs trained first by a pool of {workers} process(es), one torch thread each"
    todo: dict[int, set[str]] = {n: set() for n in range(len(pooled))}  # item -> keys awaited
    queue: dict = {}
    running: dict = {}
    trained: set[str] = set()
    rows = []
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, spawn, torch.set_num_threads, (1,)) if workers > 1 else None
    try:
        while todo:
            for n in [n for n, keys in todo.items() if not keys]:
                timed = pooled[n].study.timed
                plan, out = _dry_run(pooled[n].study, pooled[n].cfg, timing=not timed)
                if out is not None and not timed:
                    rows.append(_write(pooled[n], out, plan, trained, start, how))
                    del todo[n]
                    studies.update()
                    continue
                need = {s.key(): s for s in plan.missing}
                if timed and not need:  # only its timing runs are left: made below, alone
                    del todo[n]
                    continue
                if not need or set(need) <= trained:
                    raise RuntimeError(f"{pooled[n].file}: the study stopped on no missing run")
                todo[n] = set(need) - trained
                new = {k: s for k, s in need.items() if k not in trained | set(running.values())}
                runs.total += len(set(new) - set(queue))
                runs.refresh()
                queue.update(new)
            if not todo:
                break
            if pool is None:
                key = _longest(queue, per)
                _train(queue.pop(key), *cache)
                done = {key}
            else:
                while queue and len(running) < workers:
                    key = _longest(queue, per)
                    running[pool.submit(_train, queue.pop(key), *cache)] = key
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in finished:
                    f.result()  # a run that failed stops the command, with its error
                done = {running.pop(f) for f in finished}
            trained |= done
            runs.update(len(done))
            for keys in todo.values():
                keys -= done
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    alone = "after the pool, alone: one process, one torch thread (its results are seconds)"
    for item in items:
        if item.study.timed:
            studies.write(f"{item.study.name}: timing runs {alone}")
            with planning(dry=False) as plan:
                out = item.study.execute(item.cfg)
            rows.append(_write(item, out, plan, trained, start, alone))
            trained |= {k for k, r in plan.records.items() if not r.from_cache}  # for the next
            studies.update()
    runs.close()
    studies.close()
    torch.set_num_threads(threads)
    return {"wall_s": time.perf_counter() - start, "workers": workers, "files": rows}


def report_text(report: dict) -> str:
    """What ``reproduce all`` did: per file, its runs, those trained now, compute, when written."""
    lines = [f"{'file':<72} {'runs':>5} {'trained':>8} {'compute min':>12} {'written at':>11}"]
    for r in report["files"]:
        lines.append(
            f"{r['file']:<72} {r['runs']:>5} {r['trained']:>8} {r['compute_s'] / 60:>12.1f} "
            f"{r['done_s'] / 60:>9.1f} m"
        )
    lines.append(f"wall time: {report['wall_s'] / 60:.1f} min with {report['workers']} worker(s)")
    return "\n".join(lines)
