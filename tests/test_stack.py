"""The stack hybridkeras runs on (`hybridkeras._stack`: Keras 3 only), and `save_model`/`load_model`.

Each case runs in a fresh process. Importing hybridkeras loads neither tf-keras nor TFQ (nor TensorFlow, on JAX),
even where they are installed; a model saves to a folder holding ``model.keras`` and reloads in a fresh process with
equal predictions; a hostile file is refused without running its code; an export of the Keras 2 versions is refused
naming the versions that wrote it.
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

from tests.backends import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
KERAS3 = {"KERAS_BACKEND": "jax"}


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


def test_import_loads_neither_tf_keras_nor_tfq_nor_tensorflow_on_jax():
    done = _python("""
        import sys, keras, hybridkeras as hk
        assert hk.keras is keras
        assert issubclass(hk.layers.ParallelPQC, keras.layers.Layer) and hk.layers.ParallelPQC.__module__ == \
            'hybridkeras.layers.parallel_pqc'
        loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf_keras', 'tensorflow_quantum'))
        print('LOADED', loaded)
        """, **KERAS3)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "LOADED []" in done.stdout


def test_every_part_imports_on_keras3_and_multi_worker_training_is_refused_with_its_reason():
    """Keras 3 used to refuse `tuning`, the CLI and the runners; now each imports, and multi-worker training (which
    Keras 3 does not offer) is refused naming why."""
    done = _python("""
        import hybridkeras as hk
        from hybridkeras.training.distribute import make_strategy
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


def test_the_retired_keras2_choice_is_one_clear_error():
    done = _python("import hybridkeras", HYBRIDKERAS_KERAS="2")
    assert done.returncode != 0
    assert "StackError" in done.stderr and "Keras 3 only" in done.stderr and "HYBRIDKERAS_KERAS='2'" in done.stderr


SAVE = """
    import json, sys, numpy as np, keras, hybridkeras as hk
    from hybridkeras import layers as hq
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

@pytest.mark.parametrize("backend", [b for b in ("jax", "tensorflow") if b in BACKENDS])
def test_save_model_writes_a_keras3_folder_that_reloads_equal_in_a_fresh_process(tmp_path, backend):
    folder = tmp_path / "model"
    env = {"KERAS_BACKEND": backend}
    saved = _python(SAVE, folder, **env)
    assert saved.returncode == 0, saved.stderr[-3000:]
    assert (folder / "model.keras").is_file() and not list(tmp_path.glob(".model.*"))  # nothing left half-written
    record = json.loads((folder / "hybridkeras.json").read_text())
    assert record["keras"] == 3 and record["keras_backend"] == backend and record["metadata"] == {"role": "test"}
    assert record["versions"]["keras"].startswith("3.") and backend in record["versions"]
    assert "tf_keras" not in record["versions"]
    assert ("tensorflow_quantum" in record["versions"]) == (importlib.util.find_spec("tensorflow_quantum") is not None)
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


# What the Keras 2 (tf_keras) versions of hybridkeras wrote: a SavedModel folder with this record beside it.
LEGACY_RECORD = {"format": 1, "keras": 2, "model_name": "hqnn_parallel", "simulators": ["tfq"],
                 "versions": {"hybridkeras": "0.1.0", "cirq": "1.5.0", "keras": "3.15.1", "tensorflow": "2.18.1",
                              "tf_keras": "2.18.0", "tensorflow_quantum": "0.7.6"}}

WRITE_TF_KERAS = """
    import os, sys
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tf_keras
    model = tf_keras.Sequential([tf_keras.Input((3,)), tf_keras.layers.Dense(2)])
    model.save(sys.argv[1], save_format="tf")
    model.save(sys.argv[1] + ".h5")
"""


@pytest.mark.parametrize("written", ["tf_keras", "record only"])
def test_an_export_of_the_keras2_versions_is_refused_naming_who_wrote_it(tmp_path, written):
    """A folder the tf_keras versions exported (a SavedModel and its record), and a loose Keras 2 .h5 file: each is
    refused with a `LegacyModelError` naming the versions that wrote it and what to do. Written by tf_keras itself
    where it is installed (TFQ brings it), else the folder is laid out as those versions laid it out."""
    folder = tmp_path / "m"
    if written == "tf_keras":
        if importlib.util.find_spec("tf_keras") is None:
            pytest.skip("tf-keras is not installed here (TFQ brings it)")
        made = _python(WRITE_TF_KERAS, folder)
        assert made.returncode == 0, made.stderr[-3000:]
    else:
        folder.mkdir()
        (folder / "saved_model.pb").write_bytes(b"\x08\x01")
    (folder / "hybridkeras.json").write_text(json.dumps(LEGACY_RECORD))
    said = _load_refusal(folder, "LegacyModelError")
    assert "REFUSED" in said and "is a Keras 2 model" in said and "load_weights" in said, said
    assert "(written by hybridkeras 0.1.0 with tf-keras 2.18.0)" in said  # the versions that wrote it, from its record
    evaluated = subprocess.run([sys.executable, "-m", "hybridkeras", "evaluate", str(folder)], cwd=ROOT, capture_output=True,
                               text=True, timeout=300, env=dict(os.environ, **KERAS3))
    assert evaluated.returncode != 0 and "Traceback" not in evaluated.stderr
    assert "Keras 2 model" in evaluated.stderr + evaluated.stdout
    if written == "tf_keras":
        said = _load_refusal(f"{folder}.h5", "LegacyModelError")
        assert "REFUSED" in said and "(written by Keras 2.18" in said, said


def test_every_test_has_a_time_limit(pytestconfig):
    """pytest-timeout is installed by the [test] extra and setup.cfg gives every test a limit, so a hang fails in
    minutes rather than at CI's 90-minute limit."""
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert 0 < float(pytestconfig.getini("timeout")) <= 900
