import gzip
import json
import shutil

import numpy as np
import pytest

from hybridkeras import data as hkdata
from hybridkeras.data import read_idx, write_idx


def test_reads_local_mnist_idx(mnist_dir):
    images = read_idx(mnist_dir / "images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "labels-idx1-ubyte.gz")
    assert images.shape == (8000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (8000,) and set(np.unique(labels)) == set(range(10))


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
def test_idx_round_trip(tmp_path, rng, name):
    array = rng.integers(0, 255, size=(7, 4, 3), dtype=np.uint8)
    write_idx(tmp_path / name, array)
    np.testing.assert_array_equal(read_idx(tmp_path / name), array)
    floats = rng.normal(size=(3, 2)).astype(np.float32)
    write_idx(tmp_path / "f.gz", floats)
    np.testing.assert_array_equal(read_idx(tmp_path / "f.gz"), floats)


def test_malformed_idx_files_name_the_problem(tmp_path, rng):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_idx(tmp_path / "missing.gz")
    (tmp_path / "text.gz").write_bytes(gzip.compress(b"hello world"))
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text.gz")
    write_idx(tmp_path / "ok.gz", rng.integers(0, 255, size=(10, 28, 28), dtype=np.uint8))
    raw = (tmp_path / "ok.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    (tmp_path / "short.gz").write_bytes(gzip.compress(gzip.decompress(raw)[:-100]))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "short.gz")


def test_load_local_folder_splits_are_seeded_and_complete(mnist_dir):
    first = hkdata.load("mnist", mnist_dir, seed=3)
    again = hkdata.load("mnist", mnist_dir, seed=3)
    other = hkdata.load("mnist", mnist_dir, seed=4)
    assert len(first.x_train) + len(first.x_val) + len(first.x_test) == 8000
    assert len(first.x_test) == 1600 and len(first.x_val) == 640
    np.testing.assert_array_equal(first.x_test, again.x_test)
    assert not np.array_equal(first.y_test, other.y_test)
    assert first.x_train.shape[1:] == (28, 28, 1) and first.x_train.dtype == np.float32
    assert 0.0 <= first.x_train.min() and first.x_train.max() <= 1.0
    # stratified: every class in every split
    for labels in (first.y_train, first.y_val, first.y_test):
        assert set(np.unique(labels)) == set(range(10))


def test_data_dir_environment_variable_and_subfolder(mnist_dir, monkeypatch):
    monkeypatch.setenv(hkdata.DATA_DIR_ENV, str(mnist_dir.parent))  # root holding mnist/
    assert hkdata.load("mnist", train_size=50).source.startswith("IDX folder")


def test_fashion_mnist_official_split_from_local_folder(tmp_path, mnist_dir):
    images, labels = read_idx(mnist_dir / "images-idx3-ubyte.gz"), read_idx(mnist_dir / "labels-idx1-ubyte.gz")
    folder = tmp_path / "fashion_mnist"
    folder.mkdir()
    write_idx(folder / "train-images-idx3-ubyte.gz", images[:600])
    write_idx(folder / "train-labels-idx1-ubyte.gz", labels[:600])
    write_idx(folder / "t10k-images-idx3-ubyte.gz", images[600:700])
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", labels[600:700])
    ds = hkdata.load("fashion_mnist", tmp_path, classes=[1, 6])
    assert ds.class_names == ["Trouser", "Shirt"]
    assert len(ds.x_test) == int(np.isin(labels[600:700], [1, 6]).sum())
    assert set(np.unique(ds.y_train)) == {0, 1}


def test_balanced_subsets_class_filter_resize_flatten(mnist_dir):
    ds = hkdata.load("mnist", mnist_dir, classes=[0, 1], train_size=200, val_size=40, test_size=100, resize=(14, 14))
    assert ds.num_classes == 2 and ds.input_shape == (14, 14, 1)
    for labels, size in ((ds.y_train, 200), (ds.y_val, 40), (ds.y_test, 100)):
        assert np.bincount(labels).tolist() == [size // 2, size // 2]
    flat = hkdata.load("digits", flatten=True)
    assert flat.x_train.shape[1:] == (64,)


def test_bundled_sample_and_digits_need_no_download():
    sample = hkdata.load("mnist_sample")
    assert sample.input_shape == (28, 28, 1) and len(sample.x_train) + len(sample.x_val) + len(sample.x_test) == 2000
    digits = hkdata.load("digits")
    assert digits.input_shape == (8, 8, 1) and digits.x_train.max() <= 1.0


def test_loader_errors_name_the_argument(tmp_path, mnist_dir):
    with pytest.raises(ValueError, match="Unknown dataset name.*name='cifar'"):
        hkdata.load("cifar")
    with pytest.raises(FileNotFoundError, match="`data_dir`"):
        hkdata.load("mnist", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="No IDX files for 'mnist'"):
        hkdata.load("mnist", tmp_path)
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(mnist_dir / "images-idx3-ubyte.gz", half)
    with pytest.raises(FileNotFoundError, match="labels-idx1-ubyte"):
        hkdata.load("mnist", half)
    with pytest.raises(ValueError, match="classes"):
        hkdata.load("mnist", mnist_dir, classes=[3, 11])
    with pytest.raises(ValueError, match="train_size.*class"):
        hkdata.load("mnist", mnist_dir, classes=[0, 1], train_size=5000)
    with pytest.raises(ValueError, match="validation_split"):
        hkdata.load("digits", validation_split=1.5)
    with pytest.raises(ValueError, match="resize"):
        hkdata.load("digits", resize=(0, 4))


def test_nan_inputs_are_rejected():
    with pytest.raises(ValueError, match="`x_train` contains 1 NaN"):
        hkdata.check_finite(np.array([1.0, np.nan]), "x_train")
    with pytest.raises(ValueError, match="NaN"):
        hkdata.normalize_images(np.array([[0.5, np.inf]]))


def test_augmenter_keeps_shape_and_changes_pixels(tiny_images):
    augment = hkdata.make_augmenter(seed=0)
    out = np.asarray(augment(tiny_images, training=True))
    assert out.shape == tiny_images.shape
    assert not np.allclose(out, tiny_images)
    np.testing.assert_array_equal(np.asarray(augment(tiny_images, training=False)), tiny_images)


def _idx_folder(folder, images, labels):
    folder.mkdir()
    write_idx(folder / "images-idx3-ubyte.gz", images)
    write_idx(folder / "labels-idx1-ubyte.gz", labels)
    return folder


def test_bad_data_is_refused_when_loaded_naming_the_problem(tmp_path):
    from hybridkeras.data import load

    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, size=(200, 28, 28)).astype(np.float32)
    labels = np.repeat(np.arange(10), 20).astype(np.uint8)
    nan = images.copy()
    nan[::5] = np.nan  # every 5th image, as in the report
    with pytest.raises(ValueError, match=r"`x_train` contains \d+ NaN or Inf values"):
        load("mnist", _idx_folder(tmp_path / "nan", nan, labels))
    with pytest.raises(ValueError, match=r"float pixel values in \[[\d.]+, \d+\].*scaled to \[0, 1\]"):
        load("mnist", _idx_folder(tmp_path / "big", images * 255_000, labels))
    wrong = labels.copy()
    wrong[:3] = 12
    with pytest.raises(ValueError, match=r"labels \[12\] outside 0..9"):
        load("mnist", _idx_folder(tmp_path / "labels", images, wrong))
    assert load("mnist", _idx_folder(tmp_path / "fine", images, labels)).x_train.max() <= 1.0


def test_nan_data_fails_the_command_instead_of_training(tmp_path):
    from tests.test_cli import hybridkeras as cli

    rng = np.random.default_rng(1)
    images = rng.uniform(0, 1, size=(1000, 28, 28)).astype(np.float32)
    images[::5] = np.nan
    folder = _idx_folder(tmp_path / "nan", images, np.repeat(np.arange(10), 100).astype(np.uint8))
    done = cli("train", "hqnn-parallel", "--config", "hqnn-parallel-tiny", "--dataset", "mnist", "--data-dir",
               str(folder), "--epochs", "1", "--quiet", "--output", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode != 0 and "NaN or Inf" in done.stderr, done.stderr[-2000:]


def test_one_data_spec_maps_every_config_and_what_exports_record(tmp_path):
    """The config → `data.load` mapping was written four times (experiments, distillation, the
    pipeline, evaluate); each now goes through `DataSpec`, and a recorded spec rebuilds the same split."""
    from hybridkeras.data import DataSpec
    from hybridkeras.training import get_config

    import dataclasses

    experiment = dataclasses.replace(get_config("hqnn-quanv-tiny", seeds=(3, 4), resize=(14, 14)), data_seed=None)
    spec = experiment.data_spec(4)  # data_seed None: the run's seed splits the data
    assert spec == DataSpec("digits", classes=None, train_size=100, test_size=50, resize=(14, 14), seed=4)
    assert get_config("hqnn-quanv-tiny").data_spec(1).seed == 0  # data_seed 0: one split for every seed
    distill = get_config("distill-tiny")
    assert distill.data_spec() == DataSpec("digits", classes=(0, 1, 2, 3), train_size=80, val_size=20, test_size=40,
                                           validation_split=0.2, test_split=0.2, resize=(16, 16), seed=0)
    pipeline = get_config("autoencoder-qfm-tiny", seed=5)
    assert pipeline.data_spec() == DataSpec("digits", seed=5)

    data = spec.load()
    record = json.loads(json.dumps(spec.record(data)))  # what an export stores, through JSON
    assert record["class_names"] == data.class_names and record["resize"] == [14, 14]
    again = DataSpec.from_record(record)
    assert again == spec
    rebuilt = again.load()
    np.testing.assert_array_equal(rebuilt.x_test, data.x_test)
    np.testing.assert_array_equal(rebuilt.y_train, data.y_train)
    every = again.every_image().load()
    assert len(every.x_train) + len(every.x_val) + len(every.x_test) == 1797


def test_first_per_class_sampling_takes_consecutive_blocks_and_the_rest_for_teachers(mnist_dir):
    """The distillation authors' split: per class, the first images in source order train the student, the
    next ones validate and test it; the teachers train on every image none of those took."""
    labels = read_idx(mnist_dir / "labels-idx1-ubyte.gz")
    images = read_idx(mnist_dir / "images-idx3-ubyte.gz")
    kwargs = dict(classes=(0, 1, 2), train_size=30, val_size=15, test_size=30, sampling="first")
    student = hkdata.load("mnist", mnist_dir, **kwargs)
    teacher = hkdata.load("mnist", mnist_dir, train_part="rest", **kwargs)
    for c in range(3):
        source = images[labels == c]  # class c's images in source order
        np.testing.assert_array_equal((student.x_train[student.y_train == c][..., 0] * 255).round(), source[:10])
        np.testing.assert_array_equal((student.x_val[student.y_val == c][..., 0] * 255).round(), source[10:15])
        np.testing.assert_array_equal((student.x_test[student.y_test == c][..., 0] * 255).round(), source[15:25])
        np.testing.assert_array_equal((teacher.x_train[teacher.y_train == c][..., 0] * 255).round(), source[25:])
    np.testing.assert_array_equal(teacher.x_test, student.x_test)
    assert len(teacher.x_train) == int(np.isin(labels, [0, 1, 2]).sum()) - 75
    assert np.array_equal(student.x_train, hkdata.load("mnist", mnist_dir, seed=7, **kwargs).x_train)  # no randomness
    with pytest.raises(ValueError, match="needs sampling='first'"):
        hkdata.load("mnist", mnist_dir, classes=(0, 1), train_size=20, train_part="rest")
    with pytest.raises(ValueError, match="`test_size`=3000 needs 1000 more samples of class 0"):
        hkdata.load("mnist", mnist_dir, classes=(0, 1, 2), train_size=30, val_size=15, test_size=3000,
                    sampling="first")
