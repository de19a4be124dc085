"""run.json and the Zarr group attributes are built in one place: pipeline.io.runinfo."""

from __future__ import annotations

import json

import pytest

from pipeline.io import PruneError, open_run
from pipeline.io.runinfo import (RUN_INFO_FIELDS, RUN_KEYS, RUN_SCHEMA_VERSION, TRAJECTORY_ATTRS, check_info,
                                 run_info, trajectory_attrs, write_run_info)

REQUIRED = dict(data="digits", n_train=3, classes=["a", "b"], model=None, config={}, epochs=2, inits=1, seed=0,
                record_pass="train", fingerprint="f" * 64)


def test_the_builder_gives_every_required_key_in_the_written_order():
    info = run_info(**REQUIRED, eval_pass=False, versions={"prune": "x"}, logits_dtype="float16")
    assert set(RUN_KEYS) <= set(info)
    assert info["schema_version"] == RUN_SCHEMA_VERSION
    assert list(info) == [k for k in RUN_INFO_FIELDS if k in info]  # one order, whatever order the caller named them
    assert list(run_info(**dict(reversed(list(REQUIRED.items()))))) == list(run_info(**REQUIRED))


@pytest.mark.parametrize("key", [k for k in RUN_KEYS if k != "schema_version"])
def test_a_missing_key_is_refused(key):
    fields = {k: v for k, v in REQUIRED.items() if k != key}
    with pytest.raises(ValueError, match=f"lack {key}"):
        run_info(**fields)


def test_an_unknown_key_or_a_value_readers_refuse_is_refused():
    with pytest.raises(ValueError, match="no key 'epoch'"):
        run_info(**REQUIRED, epoch=3)
    with pytest.raises(ValueError, match="'epochs'"):
        run_info(**{**REQUIRED, "epochs": "2"})
    with pytest.raises(ValueError, match="repeats"):
        run_info(**{**REQUIRED, "classes": ["a", "a"]})
    with pytest.raises(ValueError, match="schema_version"):
        run_info(**REQUIRED, schema_version=2)


def test_the_writer_refuses_a_dict_the_builder_would_not_make(tmp_path):
    with pytest.raises(ValueError, match="lack"):
        write_run_info(tmp_path, {"data": "x"})
    assert not (tmp_path / "run.json").exists()


def test_what_is_written_is_what_open_run_reads(tmp_path):
    info = run_info(**REQUIRED)
    write_run_info(tmp_path, info)
    assert json.loads((tmp_path / "run.json").read_text()) == info
    check_info(info, tmp_path / "run.json")
    with pytest.raises(PruneError, match="truncated|damaged|trajectories"):
        open_run(tmp_path).targets  # run.json alone: the arrays are missing, said in one line


def test_the_group_attributes():
    attrs = trajectory_attrs(fingerprint="f", classes=("a", "b"), epochs=3, eval_pass=True, snapshot_epochs=[3])
    assert tuple(attrs) == TRAJECTORY_ATTRS
    assert attrs["epochs_recorded"] == [0, 1, 2] and attrs["classes"] == ["a", "b"] and attrs["label_noise"] == 0.0
    assert attrs["schema_version"] == RUN_SCHEMA_VERSION and attrs["record_pass"] == "train"
