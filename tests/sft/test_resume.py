"""SFT survives a kill: a rerun continues from the last checkpoint and ends with the weights and
loss rows of an uninterrupted run (float32, byte for byte); the checkpoints go once the outputs are
written; a changed input starts afresh."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import torch

from explainrec.core.checkpoints import checkpoint_root, last_trainer_checkpoint
from explainrec.core.errors import ParamError
from explainrec.sft import train as sft_train
from tests.killing import REPO, Interrupted, run_and_kill, stop_callback, trainer_step

from .resume_job import STEPS, add_trainer_callback, job_pairs, job_params, run_job

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    """Checkpoints under the test's own folder."""
    monkeypatch.setenv("EXPLAINREC_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(out / "model" / "model.safetensors")


def assert_same_run(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa), [k for k in wa if not torch.equal(wa[k], wb[k])]
    from tests.core.test_curves import tsv

    for name in ("loss", "eval/loss"):  # the curves of a resumed run are an uninterrupted run's
        ca, cb = (tsv(Path(f"{d}.curves"), name) for d in (a, b))
        assert ca.equals(cb) and len(ca), name


def folder_of(tiny_model_dir: Path, seed: int = 0, **overrides) -> Path:
    train, test = job_pairs()
    return sft_train.sft_checkpoint(sft_train.CHECKPOINT_NAME, train, test, tiny_model_dir, job_params(**overrides),
                                    seed).folder


def stop_at(monkeypatch, step: int | None) -> None:
    """Make the trainers that train_sft builds raise at the end of optimiser step ``step`` (None: at the
    end of training, after its last checkpoint), as a kill would stop them."""
    add_trainer_callback(stop_callback(step), monkeypatch.setattr)


def interrupted(monkeypatch, model: Path, out: Path, step: int | None, **overrides) -> None:
    with monkeypatch.context() as m:
        stop_at(m, step)
        with pytest.raises(Interrupted):
            run_job(model, out, **overrides)


@pytest.fixture(scope="module")
def reference(tiny_model_dir, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Uninterrupted runs (checkpoints on), by number of epochs."""
    runs = {}
    env = os.environ.get("EXPLAINREC_CACHE")
    root = tmp_path_factory.mktemp("sft-reference")
    os.environ["EXPLAINREC_CACHE"] = str(root / "cache")
    try:
        for epochs in (3, 2.5):
            out = root / f"epochs-{epochs}"
            runs[epochs] = out, run_job(tiny_model_dir, out, epochs=epochs)
    finally:
        if env is None:
            os.environ.pop("EXPLAINREC_CACHE")
        else:
            os.environ["EXPLAINREC_CACHE"] = env
    assert not (root / "cache" / "checkpoints" / "sft").exists()  # removed once the outputs were written
    return runs


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_finishes_from_the_checkpoint(tiny_model_dir, reference, tmp_path, cache):
    folder = folder_of(tiny_model_dir)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "EXPLAINREC_CACHE": str(cache)}
    run_and_kill([sys.executable, str(HERE / "resume_job.py"), str(tiny_model_dir), str(tmp_path / "killed"),
                  "--sleep", "0.4"], lambda: trainer_step(folder) >= 4, tmp_path / "job.log", env=env, poll=0.02,
                 what="checkpoint-4")
    assert not (tmp_path / "killed" / "metrics.json").exists()
    step = trainer_step(folder)
    assert 4 <= step < STEPS

    m = run_job(tiny_model_dir, tmp_path / "resumed")
    assert m["resumed_from_step"] == step and m["steps"] == STEPS
    ref_out, ref = reference[3]
    assert_same_run(ref_out, tmp_path / "resumed")
    assert ref["resumed_from_step"] == 0
    assert {k: v for k, v in m.items() if "seconds" not in k and k != "resumed_from_step"} == \
        {k: v for k, v in ref.items() if "seconds" not in k and k != "resumed_from_step"}
    assert not folder.exists() and not (cache / "checkpoints" / "sft").exists()


@pytest.mark.parametrize(("stop", "checkpoint_steps", "epochs", "resumed"), [
    (5, 3, 3, 3),  # inside an epoch, between two logged losses: the loss sums come back
    (6, 4, 3, 4),  # saved at an epoch's end: after that epoch's test loss, which a resumed run never measures
    (None, 4, 2.5, 10),  # the run's last step, inside an epoch: nothing is trained again
])
def test_interrupted_then_resumed_equals_uninterrupted(tiny_model_dir, reference, tmp_path, monkeypatch, stop,
                                                       checkpoint_steps, epochs, resumed):
    interrupted(monkeypatch, tiny_model_dir, tmp_path / "a", stop, epochs=epochs, checkpoint_steps=checkpoint_steps)
    folder = folder_of(tiny_model_dir, epochs=epochs)
    assert last_trainer_checkpoint(folder).name == f"checkpoint-{resumed}"
    m = run_job(tiny_model_dir, tmp_path / "b", epochs=epochs, checkpoint_steps=checkpoint_steps)
    ref_out, ref = reference[epochs]
    assert m["resumed_from_step"] == resumed and m["steps"] == ref["steps"]
    assert m["train_loss_mean"] == ref["train_loss_mean"] and m["eval_loss"] == ref["eval_loss"]
    assert_same_run(ref_out, tmp_path / "b")
    assert not folder.exists()


def test_a_checkpoint_cut_short_is_never_resumed(tiny_model_dir, reference, tmp_path, monkeypatch):
    interrupted(monkeypatch, tiny_model_dir, tmp_path / "a", 5, checkpoint_steps=3)
    folder = folder_of(tiny_model_dir)
    # a kill while checkpoint-6 was written: everything there but a trainer state cut short
    shutil.copytree(folder / "checkpoint-3", folder / "checkpoint-6")
    state = (folder / "checkpoint-6" / "trainer_state.json").read_text()
    (folder / "checkpoint-6" / "trainer_state.json").write_text(state[: len(state) // 2])
    m = run_job(tiny_model_dir, tmp_path / "b", checkpoint_steps=3)
    assert m["resumed_from_step"] == 3
    assert_same_run(reference[3][0], tmp_path / "b")


def test_last_trainer_checkpoint_takes_the_newest_complete_one(tmp_path):
    def checkpoint(step: int, state: str | None) -> None:
        (tmp_path / f"checkpoint-{step}").mkdir()
        if state is not None:
            (tmp_path / f"checkpoint-{step}" / "trainer_state.json").write_text(state)

    assert last_trainer_checkpoint(tmp_path / "none") is None and last_trainer_checkpoint(tmp_path) is None
    checkpoint(2, json.dumps({"global_step": 2}))
    checkpoint(4, json.dumps({"global_step": 4}))
    checkpoint(6, json.dumps({"global_step": 6})[:9])  # cut short
    checkpoint(8, None)  # killed before the trainer state
    checkpoint(10, json.dumps({"global_step": 8}))  # not this folder's
    (tmp_path / "checkpoint-12").write_text("")  # a file
    assert last_trainer_checkpoint(tmp_path) == tmp_path / "checkpoint-4"
    assert last_trainer_checkpoint(tmp_path, processes=2) is None  # no rng_state_<i>.pth of each process
    assert {p.name for p in tmp_path.iterdir()} >= {"checkpoint-6", "checkpoint-8", "checkpoint-10"}
    assert last_trainer_checkpoint(tmp_path, prune=True) == tmp_path / "checkpoint-4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-12", "checkpoint-2", "checkpoint-4"]


def test_a_changed_input_starts_afresh(tiny_model_dir, tmp_path, monkeypatch, cache):
    interrupted(monkeypatch, tiny_model_dir, tmp_path / "a", 5)
    kept = folder_of(tiny_model_dir)
    assert last_trainer_checkpoint(kept).name == "checkpoint-4"
    other_seed = run_job(tiny_model_dir, tmp_path / "seed", seed=1)
    other_lr = run_job(tiny_model_dir, tmp_path / "lr", learning_rate=2e-2, epochs=1)
    assert other_seed["resumed_from_step"] == 0 and other_lr["resumed_from_step"] == 0
    assert last_trainer_checkpoint(kept).name == "checkpoint-4"  # still there for its own rerun
    assert sorted(p.name for p in (cache / "checkpoints" / "sft").iterdir()) == [kept.name]
    # the save period is not part of the key: a new one goes on from the older checkpoints
    assert run_job(tiny_model_dir, tmp_path / "b", checkpoint_steps=3)["resumed_from_step"] == 4
    assert not (cache / "checkpoints" / "sft").exists()


def test_checkpoint_steps_0_saves_nothing(tiny_model_dir, tmp_path, cache):
    m = run_job(tiny_model_dir, tmp_path / "a", epochs=1, checkpoint_steps=0)
    assert m["resumed_from_step"] == 0 and m["steps"] == 4 and not (cache / "checkpoints").exists()
    with pytest.raises(ParamError, match="sft.checkpoint_steps"):
        job_params(checkpoint_steps=-1)
    with pytest.raises(ParamError, match="sft.checkpoint_steps"):
        job_params(checkpoint_steps=1.5)
    assert checkpoint_root() == cache / "checkpoints"


def test_an_ablation_keeps_its_checkpoint_until_its_explanations_are_written(tiny_model_dir, tmp_path, monkeypatch,
                                                                             cache):
    from explainrec.experiments import ablation
    from explainrec.sft import generate
    from explainrec.sft.params import SFTGenerateConfig
    from tests.sft import pair_rows, write_cpeg, write_profiles

    profiles = write_profiles(tmp_path / "profiles")
    targets = write_cpeg(tmp_path / "cpeg", pair_rows("train", 4) + pair_rows("test", 2, start=4))
    variant = ablation.AblationVariant("wo_pghis", sft=True, user_layer=0, item_layer=0)
    assert ablation.checkpoint_name(variant) not in (sft_train.CHECKPOINT_NAME,
                                                     ablation.checkpoint_name(ablation.AblationVariant("wo_x")))
    params = job_params(epochs=1, max_eval_pairs=2)
    calls = []

    def generate_then_fail(model, *args, **kwargs):
        calls.append(Path(model))
        if len(calls) == 1:
            raise Interrupted("while generating")
        return {"pairs": 2}

    monkeypatch.setattr(generate, "run_generate", generate_then_fail)
    from explainrec.core.curves import curves
    from tests.core.test_curves import tsv

    def run(out: Path) -> dict:
        with curves(Path(f"{out}.curves")) as live:
            return ablation.run_ablation(variant, profiles, targets, tiny_model_dir, out, params,
                                         SFTGenerateConfig(), seed=0, progress=False, live=live)

    with pytest.raises(Interrupted):
        run(tmp_path / "a")
    names = [p.name for p in (cache / "checkpoints").iterdir()]
    assert names == [ablation.checkpoint_name(variant)]  # its own name, and kept: the training ended
    m = run(tmp_path / "b")
    assert m["training"]["resumed_from_step"] == 2 and m["training"]["steps"] == 2  # nothing trained again
    assert "_checkpoint" not in m["training"] and json.dumps(m)
    wa, wb = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not Path(f"{tmp_path / 'a'}.curves").exists()  # the interrupted run left no curves folder
    # the rerun trained nothing: the log of the finished checkpoint is its curve
    assert tsv(Path(f"{tmp_path / 'b'}.curves"), "loss")["step"].tolist() == [1, 2]
    assert not (cache / "checkpoints" / names[0]).exists()
