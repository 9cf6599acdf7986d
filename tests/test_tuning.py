import json

import numpy as np
import pytest
import keras_tuner as kt

import hybridkeras as hk
from hybridkeras.training import get_config
from hybridkeras.tuning import AutoencoderQFMHyperModel, tune_autoencoder_qfm


def test_hypermodel_builds_keras_models_with_explicit_defaults():
    hypermodel = AutoencoderQFMHyperModel(np.random.default_rng(0).uniform(size=(40, 16)), 10, shots=(0, 500))
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    assert isinstance(model, hk.keras.Model)
    assert hp.values == {"reduction": "groups", "readout": "Z", "shots": 0, "units": 256, "dropout": 0.3, "learning_rate": 1e-3}
    assert model.input_shape == (None, 20)  # 16 codes padded to 20 = 4 circuits × 5 qubits


def test_two_trial_random_search_exports_its_best_model(tmp_path):
    config = get_config("autoencoder-qfm-tiny", ae_epochs=2)
    summary = tune_autoencoder_qfm(config, output_dir=tmp_path, tuner="random", max_trials=2, epochs=2, shots=(0,), verbose=0)
    trials = list((tmp_path / "tuner" / config.name).glob("trial_*"))
    assert len(trials) == 2
    best = hk.load_model(summary["export"])
    data = hk.data.load("digits")
    accuracy = float(np.mean(best.predict(data.x_test, verbose=0).argmax(axis=1) == data.y_test))
    assert accuracy == pytest.approx(summary["test_accuracy"], abs=1e-6)  # exact readouts: reproducible
    assert json.loads((tmp_path / "tuning.json").read_text())["best_hyperparameters"] == summary["best_hyperparameters"]


def test_searches_with_seed_zero_are_reproducible(tmp_path):
    """Keras Tuner reads seed 0 as 'no seed': two searches with the config's seed 0 drew different
    hyperparameters (oracle seeds random in 1..10000)."""
    from hybridkeras.tuning import make_tuner

    hypermodel = AutoencoderQFMHyperModel(np.random.default_rng(0).uniform(size=(40, 16)), 10, shots=(0,))
    drawn = []
    for run in range(2):
        search = make_tuner(hypermodel, "random", max_trials=3, epochs=1, directory=tmp_path / str(run),
                            project_name="p", seed=0, overwrite=True)
        drawn.append([search.oracle.create_trial(f"t{i}").hyperparameters.values for i in range(3)])
    assert drawn[0] == drawn[1]
    assert len({json.dumps(values, sort_keys=True) for values in drawn[0]}) == 3


def test_a_search_records_its_settings_and_refuses_to_resume_with_others(tmp_path):
    """The tune runner wrote no config.json: a search resumed with another config or tuner setting mixed
    trials of both. It now records them, refuses a changed resume before any trial, and continues an
    unchanged one (more trials allowed); bad trial counts leave nothing behind."""
    from hybridkeras.tuning import tune_experiment

    config = get_config("hqnn-parallel-tiny", epochs=1, backend="statevector")
    with pytest.raises(ValueError, match="max_trials"):
        tune_experiment(config, output_dir=tmp_path / "bad", max_trials=0, verbose=0)
    assert not (tmp_path / "bad").exists()
    tune_experiment(config, output_dir=tmp_path / "s", max_trials=1, verbose=0)
    recorded = json.loads((tmp_path / "s" / "config.json").read_text())
    assert recorded["backend"] == "statevector" and recorded["search"]["tuner"] == "random"
    trials = lambda: sorted(p.name for p in (tmp_path / "s" / "tuner").glob("*/trial_*"))
    assert len(trials()) == 1
    for changed in ({"config": get_config("hqnn-parallel-tiny", epochs=1, backend="tfq")},
                    {"config": config, "tuner": "bayesian"}, {"config": config, "epochs": 2}):
        changed = {"config": config, **changed}
        with pytest.raises(ValueError, match="differ"):
            tune_experiment(changed.pop("config"), output_dir=tmp_path / "s", max_trials=2, verbose=0, **changed)
        assert len(trials()) == 1
    tune_experiment(config, output_dir=tmp_path / "s", max_trials=2, verbose=0)
    assert len(trials()) == 2
