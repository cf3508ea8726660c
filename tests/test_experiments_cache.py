import json

import pytest

from codigem_lab.data import SyntheticConfig
from codigem_lab.experiments.cache import ResultCache
from codigem_lab.runs import DataSpec, RunSpec
from codigem_lab.train import TrainConfig


def spec(model="codigem", seed=0, epochs=3, **params):
    return RunSpec(
        DataSpec(dataset="synthetic", seed=seed),
        model,
        "paper" if model == "codigem" else None,
        params,
        TrainConfig(max_epochs=epochs, progress=False, seed=seed),
    )


@pytest.fixture
def small_synthetic(monkeypatch):
    """Make 'synthetic' small so these runs take a fraction of a second."""
    import codigem_lab.data.synthetic as syn
    from codigem_lab.data.spec import _fingerprint

    small = SyntheticConfig(n_users=200, n_items=120, n_interactions=5000, n_groups=3, seed=0)
    monkeypatch.setattr(syn, "SyntheticConfig", lambda *a, **k: small)
    _fingerprint.cache_clear()  # memoised fingerprints of the full-size data would key these runs
    yield
    _fingerprint.cache_clear()  # and the small data's must not key later tests' runs


def test_second_run_comes_from_cache(tmp_path, small_synthetic, monkeypatch):
    cache = ResultCache(tmp_path)
    a = cache.run(spec())
    assert not a.from_cache and (a.path / "record.json").exists()
    import codigem_lab.experiments.cache as mod

    def boom(*args, **kwargs):
        raise AssertionError("a cached run was trained again")

    monkeypatch.setattr(mod, "run_training", boom)
    b = cache.run(spec())
    assert b.from_cache and b.test == a.test
    assert len(cache.records()) == 1  # no duplicate entry
    (rec,) = cache.records()
    assert rec.spec.model == "codigem" and "R@50" in rec.test


def test_interrupted_run_resumes(tmp_path, small_synthetic, monkeypatch):
    import codigem_lab.train as train_mod

    cache = ResultCache(tmp_path)
    s = spec(epochs=4)
    real = train_mod.Trainer._train_epoch
    calls = {"n": 0}

    def interrupted(self, epoch, *a):
        calls["n"] += 1
        if epoch == 3:
            raise KeyboardInterrupt
        return real(self, epoch, *a)

    monkeypatch.setattr(train_mod.Trainer, "_train_epoch", interrupted)
    monkeypatch.setattr(train_mod, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every epoch
    with pytest.raises(KeyboardInterrupt):
        cache.run(s)
    assert cache.get(s) is None and (cache.path(s) / "last.pt").exists()
    monkeypatch.setattr(train_mod.Trainer, "_train_epoch", real)
    epochs_seen = []
    monkeypatch.setattr(
        train_mod.Trainer,
        "_train_epoch",
        lambda self, epoch, *a: (epochs_seen.append(epoch), real(self, epoch, *a))[1],
    )
    rec = cache.run(s)
    assert epochs_seen == [3, 4]  # resumed after the last finished epoch
    assert rec.summary["epochs"] == 4
    assert not (cache.path(s) / "last.pt").exists()  # checkpoints dropped once recorded
    fresh = ResultCache(tmp_path / "other").run(s)
    assert fresh.test == pytest.approx(rec.test)  # same result as an uninterrupted run


def test_an_interrupted_study_resumes_from_the_cache(tmp_path, small_synthetic, monkeypatch):
    """Kernel > Interrupt during a study's second run: the first run stays stored, and the study
    run again loads it, resumes the second from its last epoch and trains only the third."""
    import codigem_lab.train as train_mod
    from codigem_lab.experiments.common import run_specs

    cache = ResultCache(tmp_path)
    specs = [spec(seed=s, epochs=2) for s in (0, 1, 2)]
    real = train_mod.Trainer._train_epoch
    trained, interrupt = [], [True]

    def interrupted(self, epoch, *a):
        if (self.config.seed, epoch) == (1, 2) and interrupt.pop():
            raise KeyboardInterrupt
        trained.append((self.config.seed, epoch))
        return real(self, epoch, *a)

    monkeypatch.setattr(train_mod.Trainer, "_train_epoch", interrupted)
    monkeypatch.setattr(train_mod, "CHECKPOINT_EVERY_S", 0.0)  # a checkpoint after every epoch
    with pytest.raises(KeyboardInterrupt):
        run_specs(specs, cache, progress=False)
    assert cache.get(specs[0]) is not None and cache.get(specs[1]) is None
    assert trained == [(0, 1), (0, 2), (1, 1)]
    trained.clear()
    interrupt.append(False)
    records, _ = run_specs(specs, cache, progress=False)
    assert [r.from_cache for r in records] == [True, False, False]
    assert trained == [(1, 2), (2, 1), (2, 2)]  # seed 1 resumed at its second epoch


def test_corrupt_entry_is_reported_and_rerun(tmp_path, small_synthetic, capsys):
    cache = ResultCache(tmp_path)
    s = spec(model="pop")
    first = cache.run(s)
    (first.path / "record.json").write_text("{ not json")
    again = cache.run(s)
    assert not again.from_cache and again.test == first.test
    assert "corrupt" in capsys.readouterr().out
    # a record with wrong contents (numbers replaced) is not trusted either
    d = json.loads((first.path / "record.json").read_text())
    d["test"]["R@50"] = "0.99"
    (first.path / "record.json").write_text(json.dumps(d))
    assert cache.get(s) is None


def test_the_cache_keeps_best_pt_for_load_run(tmp_path, small_synthetic, capsys):
    """A stored neural run keeps best.pt (size printed once), not last.pt; the entry opens with
    load_run to the scores it was evaluated with. ``keep_best=False`` drops best.pt too."""
    import torch

    from codigem_lab import load_run
    from codigem_lab.saved import open_run

    cache = ResultCache(tmp_path)
    record = cache.run(spec(epochs=2))
    assert (record.path / "best.pt").exists() and not (record.path / "last.pt").exists()
    cache.run(spec(epochs=2))  # from the cache: nothing printed again
    other = cache.run(spec(epochs=1))  # another stored run: kept, but the note is not repeated
    assert (other.path / "best.pt").exists()
    assert capsys.readouterr().out.count("for load_run") == 1
    split = open_run(record.path).split
    scores = load_run(record.path).score(split.test.fold_in)
    assert torch.isfinite(torch.as_tensor(scores)).all()
    dropped = ResultCache(tmp_path / "lean", keep_best=False).run(spec(epochs=2))
    assert not list(dropped.path.glob("*.pt"))


def test_different_specs_are_different_entries(tmp_path, small_synthetic):
    cache = ResultCache(tmp_path)
    cache.run(spec(model="pop", seed=0))
    cache.run(spec(model="pop", seed=1))
    cache.run(spec(model="itemknn", k=10))
    assert len(cache.records()) == 3
    assert {r.spec.train.seed for r in cache.records()} == {0, 1}


def _busy(cache, s) -> bool:
    """Whether another process holds the run's lock right now."""
    from filelock import FileLock, Timeout

    lock = FileLock(cache.lock_path(s), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return True
    lock.release()
    return False


def _hold_lock(cache, s, seconds: float = 60):
    """Another process that takes the run's file lock and holds it for ``seconds``."""
    import subprocess
    import sys
    import time

    cache.root.mkdir(parents=True, exist_ok=True)
    ready = cache.root / f"{s.key()}.ready"
    code = (
        "import sys, time; from filelock import FileLock; "
        "l = FileLock(sys.argv[1]); l.acquire(); open(sys.argv[2], 'w').close(); "
        "time.sleep(float(sys.argv[3]))"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", code, str(cache.lock_path(s)), str(ready), str(seconds)]
    )
    deadline = time.time() + 30
    while not ready.exists():
        assert time.time() < deadline, "the lock holder did not start"
        time.sleep(0.05)
    return other


def test_a_run_another_live_process_trains_is_not_touched(tmp_path, small_synthetic):
    from codigem_lab.experiments.cache import RunInProgress

    cache = ResultCache(tmp_path)
    s = spec()
    other = _hold_lock(cache, s)
    try:
        cache.path(s).mkdir(parents=True)
        (cache.path(s) / "config.json").write_text("{}")  # the other process's run in progress
        assert _busy(cache, s)
        with pytest.raises(RunInProgress, match="being trained by another process"):
            cache.run(s)
        assert (cache.path(s) / "config.json").exists()  # not deleted as a leftover
    finally:
        other.kill()  # dies without releasing: the kernel drops its lock
        other.wait()
    assert not _busy(cache, s)
    rec = cache.run(s)
    assert not rec.from_cache and not _busy(cache, s)


def test_run_specs_leaves_busy_runs_for_last_and_waits_for_them(
    tmp_path, small_synthetic, monkeypatch
):
    import codigem_lab.experiments.cache as mod
    import codigem_lab.experiments.common as common

    monkeypatch.setattr(common, "WAIT_POLL_S", 0.2)
    order = []
    real = mod.run_training

    def recording(sp, *a, **k):
        order.append(sp.train.seed)
        return real(sp, *a, **k)

    monkeypatch.setattr(mod, "run_training", recording)
    cache = ResultCache(tmp_path)
    specs = [spec(seed=0), spec(seed=1), spec(seed=2)]
    other = _hold_lock(cache, specs[0], seconds=2)
    records, _ = common.run_specs(specs, cache, progress=False)
    other.wait()
    assert order == [1, 2, 0]  # seed 0 was busy: the others first, then trained when released
    assert [r.spec.train.seed for r in records] == [0, 1, 2]  # in the order asked
    assert not any(_busy(cache, sp) for sp in specs)


def test_a_run_made_by_other_code_is_reported_and_rerun_unless_kept(
    tmp_path, small_synthetic, monkeypatch, capsys
):
    import codigem_lab.experiments.cache as mod

    cache = ResultCache(tmp_path)
    first = cache.run(spec(model="pop"))
    assert first.code_version == mod.code_version()
    monkeypatch.setattr(mod, "code_version", lambda: "0123456789ab")
    assert cache.get(spec(model="pop")) is None  # stale: re-run
    said = capsys.readouterr().out
    assert "made by code" in said and "re-running it (--keep-stale uses it)" in said
    kept = ResultCache(tmp_path, keep_stale=True).get(spec(model="pop"))
    assert kept is not None and kept.test == first.test
    assert "used as it is (--keep-stale)" in capsys.readouterr().out


def test_a_stale_run_is_reported_once(tmp_path, small_synthetic, monkeypatch, capsys):
    import codigem_lab.experiments.cache as mod

    cache = ResultCache(tmp_path)
    cache.run(spec(model="pop"))
    monkeypatch.setattr(mod, "code_version", lambda: "0123456789ab")
    kept = ResultCache(tmp_path, keep_stale=True)
    kept.get(spec(model="pop"))
    kept.get(spec(model="pop"))
    assert capsys.readouterr().out.count("made by code") == 1 and len(kept.stale_notes) == 1


def test_the_code_version_follows_the_run_sources(tmp_path, monkeypatch):
    import codigem_lab.experiments.cache as mod

    before = mod.code_version()
    assert len(before) == 12 and before == mod.code_version()
    pkg = tmp_path / "pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "runs.py").write_text("x = 1\n")
    (pkg / "data" / "a.py").write_text("y = 1\n")
    monkeypatch.setattr(mod, "RUN_SOURCES", ("runs.py", "data"))
    monkeypatch.setattr(mod, "__file__", str(pkg / "experiments" / "cache.py"))
    mod.code_version.cache_clear()
    one = mod.code_version()
    (pkg / "data" / "a.py").write_text("y = 2\n")
    mod.code_version.cache_clear()
    assert mod.code_version() != one
    mod.code_version.cache_clear()


def test_docstrings_comments_and_layout_leave_the_code_version_alone():
    from codigem_lab.experiments.cache import source_digest

    base = source_digest({"a.py": 'def f(x):\n    """Long text."""\n    return x + 1\n'})
    same = '"""Module."""\n\n\ndef f(x):  # a comment\n    return (\n        x + 1\n    )\n'
    assert source_digest({"a.py": same}) == base
    assert source_digest({"a.py": "def f(x):\n    return x + 2\n"}) != base
    assert source_digest({"b.py": "def f(x):\n    return x + 1\n"}) != base  # the name counts
    assert (
        source_digest({"a.py": 'def f(x):\n    return "x + 1"\n'}) != base
    )  # strings that are values
