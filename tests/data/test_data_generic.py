"""A user's own data (``npz:PATH``, ``hf:PATH``) on tiny files in the real formats, and data identity in fingerprints."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.data import DATASETS, DataError, load_dataset
from pipeline.data import arrays as arrays_mod
from pipeline.data.digits import stratified_split
from pipeline.io import fingerprint

# Test-split labels with a hand-computed DRoP split: class 3 at 0,1,3,8 -> val 0,1;
# class 1 at 2,4,9 -> val 2; class 0 at 5,6,7 -> val 5.
Y_TEST = np.array([3, 3, 1, 3, 1, 0, 0, 0, 3, 1])
VAL_IDX = np.array([0, 1, 2, 5])
TEST_IDX = np.array([3, 4, 6, 7, 8, 9])
# fingerprint("digits", "train", targets) as computed before data identities existed: every digits run carries it
DIGITS_TRAIN_FINGERPRINT = "116baaeddfcfa894a51eed1f0329fab5da1d2589f8272c80c417bc85b5f9c4d9"


def _pixels(n, shape, seed):
    return np.random.RandomState(seed).randint(0, 256, (n, *shape)).astype(np.uint8)


def _fp(bundle):
    return fingerprint(bundle.name, "train", bundle.train.y, bundle.identity)


def _standardised(images, train_images):
    """(x/255 − mean_c)/std_c with the training pixels' per-channel stats, channels-first: the documented rule."""
    scale = train_images.astype(np.float64) / 255
    mean, std = scale.mean(axis=(0, 1, 2)), scale.std(axis=(0, 1, 2))
    return ((images / 255 - mean) / std).transpose(0, 3, 1, 2)


# ---------------------------------------------------------------- fingerprint


def test_fingerprint_without_identity_is_the_old_digest():
    y = np.array([2, 0, 1, 1])
    assert fingerprint("d", "train", y) == fingerprint("d", "train", y, "")
    assert fingerprint("d", "train", y, "abc") != fingerprint("d", "train", y)
    assert fingerprint("d", "train", y, "abc") != fingerprint("d", "train", y, "abd")


def test_digits_fingerprint_is_unchanged():
    b = load_dataset("digits")
    assert b.identity == ""
    assert fingerprint("digits", "train", b.train.y) == _fp(b) == DIGITS_TRAIN_FINGERPRINT


# ---------------------------------------------------------------- npz


def test_npz_uint8_images_with_a_test_split(tmp_path):
    x, y = _pixels(30, (6, 5, 3), 0), np.arange(30) % 4
    x_test = _pixels(10, (6, 5, 3), 1)
    names = np.array(["ant", "bee", "cat", "dog"])
    np.savez(tmp_path / "own.npz", x=x, y=y, x_test=x_test, y_test=Y_TEST, classes=names)
    b = load_dataset(f"npz:{tmp_path / 'own.npz'}")
    assert b.name == "npz" and b.classes == ["ant", "bee", "cat", "dog"]
    assert b.input_shape == (3, 6, 5) and b.augment is None
    assert (len(b.train), len(b.val), len(b.test)) == (30, 4, 6)
    np.testing.assert_array_equal(b.train.y, y)
    np.testing.assert_array_equal(b.val.y, Y_TEST[VAL_IDX])
    np.testing.assert_array_equal(b.test.y, Y_TEST[TEST_IDX])
    assert b.train.x.dtype == torch.uint8  # kept as pixels, scaled per batch
    np.testing.assert_allclose(b.train.take(np.array([7, 0])).numpy(), _standardised(x[[7, 0]], x), atol=1e-5)
    np.testing.assert_allclose(b.test.take(np.array([0])).numpy(), _standardised(x_test[TEST_IDX[:1]], x), atol=1e-5)
    np.testing.assert_allclose(b.val.take(np.array([3])).numpy(), _standardised(x_test[[5]], x), atol=1e-5)
    assert len(b.identity) == 64


def test_npz_float_vectors_without_test_arrays_hold_out_a_stratified_fifth(tmp_path):
    x, y = np.random.RandomState(2).randn(50, 7), np.arange(50) % 5
    np.savez(tmp_path / "vec.npz", x=x, y=y)
    b = load_dataset("npz:vec.npz", data_dir=tmp_path)  # a relative PATH is read under --data-dir
    assert arrays_mod.HOLDOUT_FRACTION == 0.2
    train_idx, test_idx = stratified_split(y, 0.2, seed=arrays_mod.HOLDOUT_SEED)
    assert (len(b.train), len(b.val) + len(b.test)) == (40, 10) and (len(b.val), len(b.test)) == (5, 5)
    assert b.classes == ["0", "1", "2", "3", "4"] and b.input_shape == (7,)
    np.testing.assert_array_equal(b.train.y, y[train_idx])
    assert [int((b.val.y == k).sum()) for k in range(5)] == [1] * 5
    torch.testing.assert_close(b.train.take(np.arange(40)), torch.from_numpy(x[train_idx].astype(np.float32)),
                               rtol=0, atol=0)  # floats are used as they are
    held_out = np.concatenate([b.val.take(np.arange(5)).numpy(), b.test.take(np.arange(5)).numpy()])
    np.testing.assert_array_equal(np.sort(held_out, axis=0), np.sort(x[test_idx].astype(np.float32), axis=0))
    again = load_dataset(f"npz:{tmp_path / 'vec.npz'}")
    np.testing.assert_array_equal(again.train.y, b.train.y)
    assert again.identity == b.identity and "holdout" in b.identity


def test_npz_grey_images_and_an_own_val_split(tmp_path):
    x, x_test, x_val = _pixels(20, (4, 4), 3), _pixels(6, (4, 4), 4), _pixels(4, (4, 4), 5)
    np.savez(tmp_path / "g.npz", x=x, y=np.arange(20) % 2, x_test=x_test, y_test=[0, 1, 0, 1, 0, 1],
             x_val=x_val, y_val=[0, 1, 1, 0])
    b = load_dataset(f"npz:{tmp_path / 'g.npz'}")
    assert b.input_shape == (1, 4, 4) and b.classes == ["0", "1"]
    np.testing.assert_array_equal(b.val.y, [0, 1, 1, 0])  # the file's val, whole
    np.testing.assert_array_equal(b.test.y, [0, 1, 0, 1, 0, 1])  # and its test, whole
    expected = _standardised(x_val[..., None], x[..., None])
    np.testing.assert_allclose(b.val.take(np.arange(4)).numpy(), expected, atol=1e-5)


def test_npz_channels_first_uint8_is_left_as_it_is(tmp_path):
    x = _pixels(8, (3, 7, 9), 6)  # (N, C, H, W): the last axis is no channel axis, the second is
    np.savez(tmp_path / "cf.npz", x=x, y=np.arange(8) % 2, x_test=x[:4], y_test=[0, 1, 0, 1])
    assert load_dataset(f"npz:{tmp_path / 'cf.npz'}").input_shape == (3, 7, 9)


def _savez_raw(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


NPZ_ERRORS = {
    "missing file": (None, r"npz: expected .*nowhere\.npz \(not found\)"),
    "no y": (dict(x=np.zeros((4, 2))), r"has no array 'y' \(arrays in it: x\)"),
    "no x or y": (dict(inputs=np.zeros((4, 2))), r"has no arrays 'x' and 'y' \(arrays in it: inputs\)"),
    "x_test alone": (dict(x=np.zeros((4, 2)), y=[0, 1, 0, 1], x_test=np.zeros((2, 2))), "has x_test but no y_test"),
    "val without test": (dict(x=np.zeros((4, 2)), y=[0, 1, 0, 1], x_val=np.zeros((2, 2)), y_val=[0, 1]),
                         "has x_val/y_val but no x_test/y_test"),
    "length mismatch": (dict(x=np.zeros((10, 2)), y=np.zeros(9, int)), "train has 10 inputs but 9 labels"),
    "float labels": (dict(x=np.zeros((4, 2)), y=np.array([0.0, 1.0, 0.0, 1.0])),
                     "train labels must be integer class ids 0..C-1, got dtype float64"),
    "negative label": (dict(x=np.zeros((4, 2)), y=[0, -1, 0, 1]), "train label -1 is negative"),
    "2-D labels": (dict(x=np.zeros((4, 2)), y=np.zeros((4, 1), int)), r"labels must have shape \(N,\)"),
    "label beyond classes": (dict(x=np.zeros((4, 2)), y=[0, 1, 0, 1], x_test=np.zeros((2, 2)), y_test=[2, 3],
                                  classes=np.array(["a", "b", "c"])), r"test label 3 is out of range 0..2 \(3 class names\)"),
    "object array": (dict(x=np.zeros((4, 2)), y=[0, 1, 0, 1], classes=np.array(["a", 1], dtype=object)),
                     "array 'classes' of .* holds Python objects"),
    "string inputs": (dict(x=np.array(["a", "b"]), y=[0, 1]), "train inputs must be numbers, got dtype <U1"),
    "test shape": (dict(x=np.zeros((4, 4)), y=[0, 1, 0, 1], x_test=np.zeros((2, 3)), y_test=[0, 1]),
                   r"test inputs are float32 \(3,\) but train inputs are float32 \(4,\)"),
    "no channel axis": (dict(x=np.zeros((4, 5, 6, 7), np.uint8), y=[0, 1, 0, 1]), "no channel axis of size 1, 3 or 4"),
    "empty": (dict(x=np.zeros((0, 2)), y=np.zeros(0, int)), "the train split is empty"),
    "too few to hold out": (dict(x=np.zeros((2, 2)), y=[0, 1]), "too few samples to hold out 20%"),
    # one absurd label must not size anything: 10⁹ class names would take the machine's memory
    "absurd label": (dict(x=np.zeros((6, 2)), y=[0, 1, 0, 1, 0, 10**9]),
                     r"label 1000000000 implies 1000000001 classes, more than the 6 samples"),
}


@pytest.mark.parametrize("case", NPZ_ERRORS)
def test_npz_errors_are_one_line(tmp_path, case):
    arrays, message = NPZ_ERRORS[case]
    path = tmp_path / ("nowhere.npz" if arrays is None else "bad.npz")
    if arrays is not None:
        _savez_raw(path, **arrays)
    with pytest.raises(DataError, match=message) as err:
        load_dataset(f"npz:{path}")
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("content", ["npy", "garbage", "truncated"])
def test_npz_that_is_no_archive(tmp_path, content):
    path = tmp_path / "x.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
        match = "holds a single array, not a .npz archive"
    elif content == "garbage":
        path.write_bytes(b"not a zip at all")
        match = "cannot read .* as a .npz archive"
    else:
        _savez_raw(path, x=np.zeros((100, 20)), y=np.zeros(100, int))
        path.write_bytes(path.read_bytes()[:-300])
        match = "cannot read .* as a .npz archive|is corrupt"
    with pytest.raises(DataError, match=match) as err:
        load_dataset(f"npz:{path}")
    assert "\n" not in str(err.value)


def test_npz_identity_follows_the_arrays_not_the_file(tmp_path):
    x, y = _pixels(12, (4, 4), 7), np.arange(12) % 3
    (tmp_path / "elsewhere").mkdir()
    np.savez(tmp_path / "a.npz", x=x, y=y)
    np.savez(tmp_path / "elsewhere" / "b.npz", x=x, y=y)  # the same arrays under another name and folder
    other = x.copy()
    other[0, 0, 0] ^= 1  # one pixel differs; the labels are the same
    np.savez(tmp_path / "c.npz", x=other, y=y)
    a, b, c = (load_dataset(f"npz:{tmp_path / p}") for p in ("a.npz", "elsewhere/b.npz", "c.npz"))
    np.testing.assert_array_equal(a.train.y, c.train.y)
    assert _fp(a) == _fp(b) != _fp(c)
    assert _fp(a) != fingerprint("npz", "train", a.train.y)


# ---------------------------------------------------------------- Hugging Face save_to_disk


@pytest.fixture
def hf():
    return pytest.importorskip("datasets")


NAMES = ["cat", "dog", "eel", "fox"]


def _image_split(hf, images, labels, *, mode="RGB", names=NAMES, x_col="img", y_col="lbl"):
    from PIL import Image

    pil = [Image.fromarray(a, mode) for a in images]
    features = hf.Features({x_col: hf.Image(), y_col: hf.ClassLabel(names=names)})
    return hf.Dataset.from_dict({x_col: pil, y_col: [int(v) for v in labels]}, features=features)


def test_hf_image_column_with_train_and_test(hf, tmp_path):
    x, y = _pixels(12, (6, 5, 3), 8), np.arange(12) % 4
    x_test = _pixels(10, (6, 5, 3), 9)
    odd = _pixels(1, (12, 10, 3), 10)[0]  # a test image of another size: resized to the first training image's
    test_images = [*x_test[:9], odd]
    hf.DatasetDict({"train": _image_split(hf, x, y), "test": _image_split(hf, test_images, Y_TEST)}).save_to_disk(
        tmp_path / "pets")
    b = load_dataset(f"hf:{tmp_path / 'pets'}#img,lbl")
    assert b.name == "hf" and b.classes == NAMES and b.input_shape == (3, 6, 5)
    assert (len(b.train), len(b.val), len(b.test)) == (12, 4, 6)
    np.testing.assert_array_equal(b.train.y, y)
    np.testing.assert_array_equal(b.val.y, Y_TEST[VAL_IDX])
    np.testing.assert_array_equal(b.test.y, Y_TEST[TEST_IDX])
    np.testing.assert_allclose(b.train.take(np.array([11, 2])).numpy(), _standardised(x[[11, 2]], x), atol=1e-5)
    np.testing.assert_allclose(b.test.take(np.array([1])).numpy(), _standardised(x_test[[TEST_IDX[1]]], x), atol=1e-5)
    assert b.test.take(np.array([5])).shape == (1, 3, 6, 5)  # test image 9, the odd one
    assert b.identity.endswith("#img,lbl")


def test_hf_plain_dataset_of_vectors_with_default_label(hf, tmp_path):
    x, y = np.random.RandomState(11).randn(40, 3).astype(np.float32), np.arange(40) % 4
    ds = hf.Dataset.from_dict({"features": x.tolist(), "label": y.tolist()})
    ds.save_to_disk(tmp_path / "vec")
    b = load_dataset(f"hf:{tmp_path / 'vec'}#features")  # the label column keeps its default name
    train_idx, _ = stratified_split(y, 0.2, seed=arrays_mod.HOLDOUT_SEED)
    assert (len(b.train), len(b.val), len(b.test)) == (32, 4, 4)
    assert b.input_shape == (3,) and b.classes == ["0", "1", "2", "3"]
    np.testing.assert_array_equal(b.train.y, y[train_idx])
    torch.testing.assert_close(b.train.take(np.arange(32)), torch.from_numpy(x[train_idx]), rtol=0, atol=0)


def test_hf_validation_split(hf, tmp_path):
    x = _pixels(8, (6, 5, 3), 12)
    train, val, test = _image_split(hf, x, np.arange(8) % 4), _image_split(hf, x[:3], [2, 0, 1]), _image_split(
        hf, x[:5], [0, 1, 2, 3, 0])
    hf.DatasetDict({"train": train, "validation": val, "test": test}).save_to_disk(tmp_path / "three")
    b = load_dataset(f"hf:{tmp_path / 'three'}#img,lbl")
    np.testing.assert_array_equal(b.val.y, [2, 0, 1])  # its own validation split, whole
    np.testing.assert_array_equal(b.test.y, [0, 1, 2, 3, 0])
    # without test, validation plays the test split and DRoP's val is carved out of it
    hf.DatasetDict({"train": train, "validation": test}).save_to_disk(tmp_path / "two")
    b = load_dataset(f"hf:{tmp_path / 'two'}#img,lbl")
    np.testing.assert_array_equal(b.val.y, [0])  # class 0 at 0, 4 -> val 0; the single 1, 2, 3 stay in test
    np.testing.assert_array_equal(b.test.y, [1, 2, 3, 0])


def test_hf_grey_images_default_columns(hf, tmp_path):
    x = _pixels(8, (6, 5), 13)
    ds = _image_split(hf, x, np.arange(8) % 2, mode="L", names=["a", "b"], x_col="image", y_col="label")
    hf.DatasetDict({"train": ds, "test": ds}).save_to_disk(tmp_path / "grey")
    b = load_dataset(f"hf:{tmp_path / 'grey'}")
    assert b.input_shape == (1, 6, 5) and b.classes == ["a", "b"]
    np.testing.assert_allclose(b.train.take(np.array([3])).numpy(), _standardised(x[[3], ..., None], x[..., None]),
                               atol=1e-5)


def test_hf_errors_are_one_line(hf, tmp_path, monkeypatch):
    x = _pixels(4, (6, 5, 3), 14)
    ds = _image_split(hf, x, [0, 1, 2, 3])
    hf.DatasetDict({"train": ds, "test": ds}).save_to_disk(tmp_path / "pets")
    hf.DatasetDict({"test": ds}).save_to_disk(tmp_path / "no-train")
    hf.Dataset.from_dict({"x": [[1.0], [2.0]], "label": ["cat", "dog"]}).save_to_disk(tmp_path / "strings")
    hf.Dataset.from_dict({"x": [[1.0], [2.0, 3.0]], "label": [0, 1]}).save_to_disk(tmp_path / "ragged")
    (tmp_path / "empty").mkdir()
    cases = {
        f"hf:{tmp_path / 'pets'}": r"the train split has no column 'image' \(columns: img, lbl\); name them with "
                                   r"hf:PATH#INPUT,LABEL",
        f"hf:{tmp_path / 'no-train'}": "has splits test but no 'train'",
        f"hf:{tmp_path / 'strings'}#x": r"label column 'label' must hold integer class ids or a ClassLabel.*"
                                        r"class_encode_column\('label'\)",
        f"hf:{tmp_path / 'ragged'}#x": "rows of different shapes",
        f"hf:{tmp_path / 'empty'}": "is not a data set written by save_to_disk",
        f"hf:{tmp_path / 'nowhere'}": r"hf: expected .*nowhere \(not found\)",
        f"hf:{tmp_path / 'pets'}#a,b,c": "expected hf:PATH or hf:PATH#INPUT,LABEL",
        "hf": "data set 'hf' needs its PATH: --data hf:PATH",
    }
    for spec, message in cases.items():
        with pytest.raises(DataError, match=message) as err:
            load_dataset(spec)
        assert "\n" not in str(err.value), spec
    monkeypatch.setitem(__import__("sys").modules, "datasets", None)  # as if the hf extra were not installed
    with pytest.raises(DataError, match=r"needs the datasets package: pip install -e '\.\[hf\]'$"):
        load_dataset(f"hf:{tmp_path / 'pets'}#img,lbl")


def test_hf_identity_follows_the_content(hf, tmp_path):
    y = np.arange(8) % 4
    first, second = _pixels(8, (6, 5, 3), 15), _pixels(8, (6, 5, 3), 16)
    for name, images in (("a", first), ("b", second)):
        ds = _image_split(hf, images, y)
        hf.DatasetDict({"train": ds, "test": ds}).save_to_disk(tmp_path / name)
    shutil.copytree(tmp_path / "a", tmp_path / "copy-of-a")
    a, a2, copy, b = (load_dataset(f"hf:{tmp_path / p}#img,lbl") for p in ("a", "a", "copy-of-a", "b"))
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert _fp(a) == _fp(a2) == _fp(copy) != _fp(b)


# ---------------------------------------------------------------- image folders


def _png(path, array):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array.astype(np.uint8), "RGB").save(path)


def _image_folder(root, seed, names=("x1.png", "x2.png")):
    rng = np.random.RandomState(seed)
    for cls in ("ant", "bee"):
        for name in names:
            _png(root / "train" / cls / name, rng.randint(0, 256, (6, 5, 3)))
        _png(root / "val" / cls / "v.png", rng.randint(0, 256, (6, 5, 3)))


def test_imagefolder_fingerprint_follows_the_files(tmp_path):
    _image_folder(tmp_path / "a", 0)
    _image_folder(tmp_path / "b", 1, names=("y1.png", "y2.png"))  # the same labels, other files
    _image_folder(tmp_path / "c", 2)
    _png(tmp_path / "c" / "train" / "bee" / "x2.png", np.zeros((6, 5, 3)))  # same names, one file of another size
    a, a2, b, c = (load_dataset("imagefolder", data_dir=tmp_path / p) for p in ("a", "a", "b", "c"))
    np.testing.assert_array_equal(a.train.y, b.train.y)
    assert _fp(a) == _fp(a2)
    assert len({_fp(a), _fp(b), _fp(c)}) == 3
    shutil.copytree(tmp_path / "a", tmp_path / "moved")  # a copy elsewhere is the same data
    assert _fp(load_dataset("imagefolder", data_dir=tmp_path / "moved")) == _fp(a)


# ---------------------------------------------------------------- the registry and the command line


def test_prefix_names_are_in_the_registry():
    assert "npz:my.npz" in DATASETS and "hf:some/folder" in DATASETS and "npz" in DATASETS
    assert "npz:" not in DATASETS and "digits:x" not in DATASETS and "nope:x" not in DATASETS
    assert DATASETS["npz"].usage == "npz:PATH" and DATASETS["digits"].usage == "digits"


from cli_helpers import error_line, prune, runner  # noqa: E402




def test_record_help_lists_npz_and_hf():
    res = runner.invoke(app, ["record", "--help"], env={"COLUMNS": "400"})
    assert res.exit_code == 0
    assert "npz:PATH (" in res.output and "hf:PATH (" in res.output and "hf:PATH#INPUT,LABEL" in res.output


def test_record_on_a_missing_npz_is_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = error_line(prune("record", "--data", "npz:missing.npz", "--epochs", "1", "--model", "mlp", ok=False))
    assert "npz: expected" in line and "missing.npz" in line
    assert not (tmp_path / "runs" / "default" / "run.json").exists()


def _run_info(run):
    import zarr

    info = json.loads((run / "run.json").read_text())
    targets = zarr.open_group(str(run / "trajectories.zarr"), mode="r")["targets"][:]
    return info, targets


def test_cli_record_and_grand_on_npz(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x, y = _pixels(40, (6, 5, 3), 17), np.arange(40) % 4
    np.savez(tmp_path / "own.npz", x=x, y=y, classes=np.array(NAMES))
    prune("record", "--data", "npz:own.npz", "--epochs", "2", "--model", "mlp", "--checkpoints", "0,final",
          "--batch-size", "16")
    bundle = load_dataset("npz:own.npz")
    info, targets = _run_info(tmp_path / "runs" / "default")
    assert (info["data"], info["n_train"], info["n_val"], info["n_test"]) == ("npz:own.npz", 32, 4, 4)
    assert info["classes"] == NAMES and info["input_shape"] == [3, 6, 5]
    np.testing.assert_array_equal(targets, bundle.train.y)
    assert info["data_identity"] == bundle.identity != ""
    assert info["fingerprint"] == fingerprint("npz", "train", targets, bundle.identity) == _fp(bundle)

    prune("score", "--method", "grand", "--epoch", "0", "--device", "cpu")  # reloads the data: the fingerprint matches
    other = x.copy()
    other[:, 0] = 255 - other[:, 0]  # the same labels, other images
    np.savez(tmp_path / "own.npz", x=other, y=y, classes=np.array(NAMES))
    line = error_line(prune("score", "--method", "grand", "--epoch", "0", "--device", "cpu", "--out", "g2.parquet",
                            ok=False))
    assert "fingerprint differs" in line


def test_cli_record_on_hf(hf, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = _pixels(24, (6, 5, 3), 18)
    hf.DatasetDict({"train": _image_split(hf, x[:16], np.arange(16) % 4),
                    "test": _image_split(hf, x[16:], np.arange(8) % 4)}).save_to_disk(tmp_path / "pets")
    prune("record", "--data", "hf:pets#img,lbl", "--epochs", "2", "--model", "mlp", "--checkpoints", "final",
          "--batch-size", "8")
    info, targets = _run_info(tmp_path / "runs" / "default")
    assert (info["n_train"], info["n_val"], info["n_test"], info["classes"]) == (16, 4, 4, NAMES)
    np.testing.assert_array_equal(targets, np.arange(16) % 4)
    assert info["fingerprint"] == fingerprint("hf", "train", targets, info["data_identity"])


def test_cli_train_on_a_manifest_of_npz_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "vec.npz", x=np.random.RandomState(19).randn(60, 5), y=np.arange(60) % 3)
    prune("record", "--data", "npz:vec.npz", "--epochs", "2", "--model", "mlp", "--checkpoints", "final")
    prune("score", "--method", "forgetting")
    prune("select", "--method", "random", "--rate", "0.5")
    prune("train", "--manifest", "keep.parquet", "--epochs", "1")
    metrics = json.loads((tmp_path / "runs" / "default" / "train" / "keep" / "metrics.json").read_text())
    assert metrics["n_train"] == 24
