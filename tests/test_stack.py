"""Which Keras hybridkeras runs on (`hybridkeras._stack`), and `save_model`/`load_model` on Keras 3.

Each case runs in a fresh process, since the choice is made once, at import. Under
``HYBRIDKERAS_KERAS=3`` (the default where TFQ is not installed) importing hybridkeras loads
neither tf_keras nor TFQ (nor TensorFlow, on JAX); its Keras 2-only parts say what to install;
a Keras 3 model saves to a folder holding ``model.keras`` and reloads in a fresh process with
equal predictions, and a hostile file is refused without running its code.
"""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hybridkeras
from tests.backends import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
KERAS3 = {"HYBRIDKERAS_KERAS": "3", "KERAS_BACKEND": "jax"}


def _python(code, *args, **env):
    """Runs ``code`` (with ``args`` as sys.argv[1:]) in a fresh Python with ``env`` and no inherited Keras choice."""
    environment = {k: v for k, v in os.environ.items() if k not in ("HYBRIDKERAS_KERAS", "TF_USE_LEGACY_KERAS")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *map(str, args)], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=300)


def _load_refusal(path, error: str) -> str:
    """What `hk.load_model(path)` under Keras 3 prints when it raises ``error`` (of `hybridkeras.io`): 'REFUSED …'."""
    done = _python(f"""
        import hybridkeras as hk
        from hybridkeras.io import {error}
        try:
            hk.load_model({str(path)!r})
        except {error} as exc:
            print('REFUSED', exc)
        """, **KERAS3)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_keras3_import_loads_neither_tf_keras_nor_tfq_nor_tensorflow_on_jax():
    done = _python("""
        import sys, keras, hybridkeras as hk
        from hybridkeras.layers import keras3
        assert hk.KERAS_VERSION == 3 and hk.keras is keras
        assert hk.layers.ParallelPQC is keras3.ParallelPQC and hk.layers.QuantumFeatureMap is keras3.QuantumFeatureMap
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'tensorflow_quantum'))
        print('LOADED', loaded)
        """, **KERAS3)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stdout


def test_every_part_imports_on_keras3_and_multi_worker_training_is_refused_with_its_reason():
    """Keras 3 used to refuse `tuning`, the CLI and the runners (a StackError naming tf_keras); now each imports, and
    the one feature that stays on tf_keras (multi-worker training) is refused naming why."""
    done = _python("""
        import hybridkeras as hk
        from hybridkeras.training.distribute import make_strategy
        assert hk.KERAS_VERSION == 3
        print('PARTS', hk.tuning.tune_experiment.__name__, hk.cli.main.__name__, hk.training.run_experiment.__name__,
              hk.training.train_autoencoder_qfm.__name__, hk.training.run_distillation.__name__)
        print('STRATEGY', type(make_strategy('default')).__name__, type(make_strategy('mirrored')).__name__)
        try:
            make_strategy('multi-worker')
        except ValueError as exc:
            print('REFUSED', exc)
        try:
            hk.layers.ParallelPQC(2, 3, backend='tfq')
        except ValueError as exc:
            print('TFQ', exc)
        """, **KERAS3)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PARTS tune_experiment main run_experiment train_autoencoder_qfm run_distillation" in done.stdout
    strategies = {"jax": "OneDevice DataParallel", "tensorflow": "_DefaultDistributionStrategy MirroredStrategy"}
    assert f"STRATEGY {strategies[KERAS3['KERAS_BACKEND']]}" in done.stdout, done.stdout
    refused = next(line for line in done.stdout.splitlines() if line.startswith("REFUSED"))
    assert "keras-team/keras#20585" in refused and "strategy='mirrored'" in refused
    # backend='tfq' on Keras 3 runs TFQ's ops through the simulator seam: here (no TensorFlow backend, or no TFQ) it
    # is refused naming what to change
    tfq_line = next(line for line in done.stdout.splitlines() if line.startswith("TFQ"))
    assert "KERAS_BACKEND=tensorflow" in tfq_line or "not installed" in tfq_line


def test_a_bad_keras_choice_is_one_clear_error():
    done = _python("import hybridkeras", HYBRIDKERAS_KERAS="4")
    assert done.returncode != 0
    assert "StackError" in done.stderr and "HYBRIDKERAS_KERAS must be '2'" in done.stderr
    assert "Received: HYBRIDKERAS_KERAS='4'" in done.stderr


SAVE = """
    import json, sys, numpy as np, keras, hybridkeras as hk
    from hybridkeras.layers import keras3 as hq
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), hq.ParallelPQC(2, 3, depth=1), keras.layers.Dense(3)], name='k3')
    model.compile(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).uniform(0, 1, (8, 6)).astype('float32')
    history = model.fit(x, np.arange(8) % 3, epochs=2, verbose=0)
    hk.save_model(model, sys.argv[1], history=history, metadata={'role': 'test'})
    np.save(sys.argv[1] + '.npy', np.asarray(model.predict(x, verbose=0)))
"""
LOAD = """
    import sys, numpy as np, hybridkeras as hk
    model = hk.load_model(sys.argv[1])
    x = np.random.default_rng(0).uniform(0, 1, (8, 6)).astype('float32')
    np.save(sys.argv[1] + '.loaded.npy', np.asarray(model.predict(x, verbose=0)))
    try:  # the quantum layers rebuilt on TFQ's ops (the simulator seam), where Keras runs on TensorFlow with TFQ
        on_tfq = hk.load_model(sys.argv[1], backend='tfq')
    except ValueError as exc:
        print('REFUSED', exc)
    else:
        np.save(sys.argv[1] + '.tfq.npy', np.asarray(on_tfq.predict(x, verbose=0)))
        print('ON TFQ', [l.backend for l in on_tfq.layers if hasattr(l, 'simulation')])
"""

SERVE = """
    import sys, numpy as np, tensorflow as tf
    served = tf.saved_model.load(sys.argv[1] + '/serving')
    x = np.random.default_rng(0).uniform(0, 1, (8, 6)).astype('float32')
    np.save(sys.argv[1] + '.served.npy', np.asarray(served.serve(x)))
    print('hybridkeras imported:', 'hybridkeras' in sys.modules)
"""

KERAS_CHOICES = ["3"] + (["2"] if hybridkeras.KERAS_VERSION == 2 else [])


@pytest.mark.parametrize("choice", KERAS_CHOICES)
@pytest.mark.parametrize("backend", [b for b in ("jax", "tensorflow") if b in BACKENDS])
def test_save_model_writes_a_keras3_folder_that_reloads_equal_in_a_fresh_process(tmp_path, backend, choice):
    folder = tmp_path / "model"
    env = {"HYBRIDKERAS_KERAS": choice, "KERAS_BACKEND": backend}
    saved = _python(SAVE, folder, **env)
    assert saved.returncode == 0, saved.stderr[-3000:]
    assert (folder / "model.keras").is_file() and not list(tmp_path.glob(".model.*"))  # nothing left half-written
    record = json.loads((folder / "hybridkeras.json").read_text())
    assert record["keras"] == 3 and record["keras_backend"] == backend and record["metadata"] == {"role": "test"}
    assert record["versions"]["keras"].startswith("3.") and backend in record["versions"]
    assert ("tf_keras" in record["versions"]) == (choice == "2")
    assert len(json.loads((folder / "history.json").read_text())["loss"]) == 2
    if backend == "tensorflow":  # a serving SavedModel that TensorFlow serves without hybridkeras
        assert record["serving"] == "serving"
        served = _python(SERVE, folder, KERAS_BACKEND="tensorflow")
        assert served.returncode == 0, served.stderr[-3000:]
        assert "hybridkeras imported: False" in served.stdout
        np.testing.assert_allclose(np.load(f"{folder}.served.npy"), np.load(f"{folder}.npy"), atol=1e-5)
    else:
        assert record["serving"] is None and "TensorFlow backend" in record["serving_note"]
    loaded = _python(LOAD, folder, **env)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    np.testing.assert_allclose(np.load(f"{folder}.loaded.npy"), np.load(f"{folder}.npy"), atol=1e-6)
    if backend == "tensorflow" and importlib.util.find_spec("tensorflow_quantum") is not None:
        assert "ON TFQ ['tfq']" in loaded.stdout, loaded.stdout
        np.testing.assert_allclose(np.load(f"{folder}.tfq.npy"), np.load(f"{folder}.npy"), atol=1e-5)
    else:
        assert "REFUSED" in loaded.stdout and ("KERAS_BACKEND=tensorflow" in loaded.stdout
                                               or "not installed" in loaded.stdout), loaded.stdout


def test_load_model_refuses_a_hostile_keras3_file_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    made = _python(f"""
        import keras
        from pathlib import Path
        model = keras.Sequential([keras.Input((2,)), keras.layers.Lambda(lambda t: (open({str(marker)!r}, 'w').close(), t)[1])])
        model.save({str(tmp_path / 'hostile.keras')!r})
        Path({str(marker)!r}).unlink(missing_ok=True)
        """, **KERAS3)
    assert made.returncode == 0, made.stderr[-3000:]
    said = _load_refusal(tmp_path / "hostile.keras", "UnsafeModelError")
    assert "REFUSED" in said and "safe_mode=False" in said
    assert not marker.exists()


@pytest.mark.skipif(hybridkeras.KERAS_VERSION != 2, reason="writes a tf_keras export (Keras 2)")
def test_a_tf_keras_export_loaded_under_keras3_names_keras2(tmp_path):
    keras = hybridkeras.keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    hybridkeras.save_model(model, tmp_path / "m")
    said = _load_refusal(tmp_path / "m", "ModelLoadError")
    assert "REFUSED" in said and "tf_keras (Keras 2) model" in said and "hybridkeras[tfq]" in said
    assert "(written by hybridkeras 0.1.0 with tf_keras 2.18" in said  # the version that wrote it, from its record


def test_every_test_has_a_time_limit(pytestconfig):
    """pytest-timeout is installed by the [test] extra and setup.cfg gives every test a limit, so a hang fails in
    minutes rather than at CI's 90-minute limit."""
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert 0 < float(pytestconfig.getini("timeout")) <= 900
