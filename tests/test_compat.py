import os
import subprocess
import sys

import tf_keras

import hybridkeras
from hybridkeras._compat import tf


def test_import_sets_legacy_keras_and_exposes_tf_keras():
    assert os.environ["TF_USE_LEGACY_KERAS"] == "1"
    assert hybridkeras.keras is tf_keras
    assert tf.keras.layers.Layer is tf_keras.layers.Layer


def _fresh(code, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_clear_error_when_tensorflow_already_resolved_keras3():
    done = _fresh("import tensorflow as tf; tf.keras.layers.Dense; import hybridkeras")
    assert done.returncode != 0
    assert "StackError" in done.stderr and "Keras 3" in done.stderr and "Import hybridkeras before TensorFlow" in done.stderr


def test_clear_error_when_environment_forbids_legacy_keras():
    done = _fresh("import hybridkeras", {"TF_USE_LEGACY_KERAS": "0"})
    assert done.returncode != 0
    assert "TF_USE_LEGACY_KERAS='0'" in done.stderr


def test_tensorflow_imported_first_but_untouched_still_works():
    done = _fresh("import tensorflow as tf; import hybridkeras, tf_keras; print(tf.keras.layers.Layer is tf_keras.layers.Layer)")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("True")
