import json

import numpy as np
import pytest

import hybridkeras as hk
from hybridkeras import keras
from hybridkeras.training import get_config, make_callbacks, step_schedule, train_autoencoder_qfm
from hybridkeras.io import is_export
from hybridkeras.training import pipeline


def test_real_digits_classical_and_hybrid_far_above_chance(mnist_dir, tmp_path):
    """2,000 real MNIST digits for training; both heads must clear 70% on held-out digits (chance: 10%)."""
    config = get_config("autoencoder-qfm", dataset="mnist", data_dir=str(mnist_dir), train_size=2000, test_size=1000)
    result = train_autoencoder_qfm(config, output_dir=tmp_path / "run", verbose=0)
    assert len(result.dataset.x_train) == 2000 and len(result.dataset.x_test) == 1000
    assert result.metrics["classical_test_accuracy"] >= 0.70, result.metrics
    assert result.metrics["hybrid_test_accuracy"] >= 0.70, result.metrics
    # the composed end-to-end models reproduce the two-stage scores
    for role in ("classical", "hybrid"):
        predicted = result.models[role].predict(result.dataset.x_test, verbose=0).argmax(axis=1)
        assert np.mean(predicted == result.dataset.y_test) == pytest.approx(result.metrics[f"{role}_test_accuracy"], abs=1e-6)
    record = json.loads((tmp_path / "run" / "record.json").read_text())
    assert record["metrics"] == pytest.approx(result.metrics)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_interrupted_run_resumes_from_finished_stages(tmp_path, monkeypatch, capsys):
    config = get_config("autoencoder-qfm-tiny", ae_epochs=2, head_epochs=2)
    output = tmp_path / "run"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("simulated interruption during the quantum precompute")

    monkeypatch.setattr(pipeline, "compute_features", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_autoencoder_qfm(config, output_dir=output, verbose=0)
    saved = sorted(p.name for p in (output / "checkpoints").iterdir())
    assert "autoencoder.weights.h5" in saved and "classical.weights.h5" in saved
    first_ae = json.loads((output / "checkpoints" / "autoencoder.history.json").read_text())

    monkeypatch.undo()
    result = train_autoencoder_qfm(config, output_dir=output, verbose=0)
    out = capsys.readouterr().out
    assert "[autoencoder] finished in an earlier run" in out and "[classical] finished in an earlier run" in out
    assert result.histories["autoencoder"] == first_ae
    assert is_export(output / "hybrid")


def test_backup_and_restore_resumes_mid_fit(tmp_path, seed):
    x = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def model():
        m = keras.Sequential([keras.layers.InputLayer(input_shape=(4,)), keras.layers.Dense(2, activation="softmax")])
        m.compile("adam", "sparse_categorical_crossentropy")
        return m

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                raise RuntimeError("interrupted")

    backup = tmp_path / "backup"
    with pytest.raises(RuntimeError, match="interrupted"):
        model().fit(x, y, epochs=6, verbose=0, callbacks=make_callbacks(lr_schedule=None, backup_dir=backup) + [Stop()])
    history = model().fit(x, y, epochs=6, verbose=0, callbacks=make_callbacks(lr_schedule=None, backup_dir=backup))
    # the backup callback ran before Stop at the end of epoch 2, so epochs 0-2 are kept and 3..5 run
    assert len(history.history["loss"]) == 3


def test_learning_rate_schedules():
    schedule = step_schedule(0.1, drop=0.5, every=2)
    assert [schedule(e) for e in range(5)] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])
    kinds = [type(c).__name__ for c in make_callbacks(lr_schedule="step", early_stopping=3, tensorboard_dir="/tmp/tb")]
    assert kinds == ["LearningRateScheduler", "EarlyStopping", "TensorBoard"]
    assert [type(c).__name__ for c in make_callbacks()] == ["ReduceLROnPlateau"]
    with pytest.raises(ValueError, match="lr_schedule"):
        make_callbacks(lr_schedule="cosine")
    with pytest.raises(ValueError, match="drop"):
        step_schedule(0.1, drop=0.0)


def test_named_configs():
    assert get_config("autoencoder-qfm").dataset == "mnist_sample"
    assert get_config("autoencoder-qfm-pca").reduction == "pca"
    assert get_config("autoencoder-qfm", ae_epochs=None).ae_epochs == 30  # None = keep
    with pytest.raises(ValueError, match="Unknown config name"):
        get_config("nope")
    with pytest.raises(ValueError, match="Unknown config fields"):
        get_config("autoencoder-qfm", epochz=3)


def test_nan_training_data_is_rejected():
    data = hk.data.load("digits")
    data.x_train[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`x_train` contains 1 NaN"):
        train_autoencoder_qfm(get_config("autoencoder-qfm-tiny"), dataset=data, verbose=0)


def test_epoch_backup_is_one_whole_file_that_resumes_weights_optimizer_and_epoch(tmp_path):
    """`EpochBackup` writes the model's and the optimizer's variables with the finished-epoch count in one file, replaced
    whole each epoch: a fresh model resumed from it holds exactly those values when its first resumed epoch begins,
    runs only the epochs left, and a backup of another model is refused by name."""
    from hybridkeras.training import EpochBackup

    x = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    y = np.arange(32) % 2

    def model(units=2):
        keras.utils.set_random_seed(0)
        m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(units, activation="softmax")])
        m.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
        return m

    first = model()
    first.fit(x, y, epochs=3, verbose=0, callbacks=[EpochBackup(tmp_path / "b", delete_checkpoint=False)])
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["backup.npz"]  # no temporary file left
    with np.load(tmp_path / "b" / "backup.npz") as stored:
        assert int(stored["epoch"]) == 3
        saved = [stored[f"v{i}"] for i in range(int(stored["count"]))]
    expected = [np.asarray(v) for v in first.variables] + [np.asarray(v) for v in first.optimizer.variables]
    assert len(saved) == len(expected) and all(np.array_equal(a, b) for a, b in zip(saved, expected))
    assert int(saved[len(first.variables)]) == 3  # the optimizer's step count: one batch of 32 per epoch

    class Seen(keras.callbacks.Callback):
        epochs, at_begin = [], None

        def on_epoch_begin(self, epoch, logs=None):
            if Seen.at_begin is None:
                Seen.at_begin = [np.asarray(v) for v in self.model.variables] + \
                    [np.asarray(v) for v in self.model.optimizer.variables]
            Seen.epochs.append(epoch)

    second = model()
    history = second.fit(x, y, epochs=5, verbose=0, callbacks=[EpochBackup(tmp_path / "b"), Seen()])
    assert Seen.epochs == [3, 4] and len(history.history["loss"]) == 2
    assert all(np.array_equal(a, b) for a, b in zip(Seen.at_begin, expected))
    assert not (tmp_path / "b").exists()  # delete_checkpoint: gone once fit ends
    third = model()
    third.fit(x, y, epochs=1, verbose=0, callbacks=[EpochBackup(tmp_path / "c", delete_checkpoint=False)])
    with pytest.raises(ValueError, match="do not fit this model"):
        model(units=3).fit(x, y, epochs=2, verbose=0, callbacks=[EpochBackup(tmp_path / "c")])


@pytest.mark.skipif(keras.backend.backend() == "torch", reason="Keras allows steps_per_execution > 1 on TF and JAX only")
def test_several_steps_per_execution_train_the_same_numbers_as_one():
    """The runners compile with `runner_steps_per_execution` (32 on TensorFlow): the same batches, shuffles and
    dropout draws as one step per call, so the same weights and history (a run's numbers do not depend on it)."""
    from hybridkeras.models import compile_for, runner_steps_per_execution

    assert runner_steps_per_execution() == (32 if keras.backend.backend() == "tensorflow" else 1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(1200, 12)).astype("float32"), rng.integers(0, 3, 1200)  # 60 batches an epoch
    results = []
    for steps in (1, 32):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(16, activation="relu"),
                                  keras.layers.BatchNormalization(), keras.layers.Dropout(0.3),
                                  keras.layers.Dense(3, activation="softmax")])
        compile_for(model, steps_per_execution=steps)
        history = model.fit(x, y, validation_split=0.2, epochs=3, batch_size=16, shuffle=True, verbose=0).history
        results.append((model.get_weights(), history))
    for a, b in zip(results[0][0], results[1][0]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for key in results[0][1]:
        np.testing.assert_allclose(results[0][1][key], results[1][1][key], rtol=1e-5)


def test_array_inputs_feed_every_row_once_an_epoch_in_a_seeded_order():
    """`training.feeding.array_inputs`: on TensorFlow a pipeline of its own (cheap iterators; Keras' array adapter
    costs ~9 ms an iterator, two per epoch), each epoch a new permutation of all rows, the same for the same seed;
    on JAX and PyTorch the arrays themselves, for Keras to shuffle."""
    from hybridkeras.training.feeding import array_inputs, validation_inputs

    x, y = np.arange(100, dtype=np.float32).reshape(50, 2), np.arange(50)
    fed = array_inputs(x, y, batch_size=8, seed=3)
    if keras.backend.backend() != "tensorflow":
        assert fed["x"] is x and fed["y"] is y and fed["batch_size"] == 8 and fed["shuffle"] is True
        assert validation_inputs(x, y, batch_size=8) == (x, y)
        return

    def epochs(dataset, count):
        return [np.concatenate([np.asarray(b[1]) for b in dataset]) for _ in range(count)]

    assert set(fed) == {"x", "shuffle"} and fed["shuffle"] is False  # the pipeline shuffles itself
    first = epochs(fed["x"], 3)
    for order in first:
        assert sorted(order.tolist()) == list(range(50))  # every row once
        assert len(order) == 50
    assert not np.array_equal(first[0], first[1])  # reshuffled every epoch
    again = epochs(array_inputs(x, y, batch_size=8, seed=3)["x"], 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))  # reproducible from the seed
    assert [len(b[0]) for b in fed["x"]] == [8] * 6 + [2]
    ordered = np.concatenate([np.asarray(b[1]) for b in validation_inputs(x, y, batch_size=8)])
    np.testing.assert_array_equal(ordered, y)
