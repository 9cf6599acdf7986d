"""HyperModels for the HQNN families (paper 2): HQNN-Parallel / its CNN counterpart, HQNN-Quanv."""
from __future__ import annotations

import keras_tuner as kt

from hybridkeras.models import build_hqnn_parallel, build_hqnn_parallel_cnn, build_hqnn_quanv, compile_for


class HQNNParallelHyperModel(kt.HyperModel):
    """HQNN-Parallel (``quantum=True``) or its CNN counterpart (``quantum=False``).

    Hyperparameters, defaults = the paper's settings:

    * quantum: ``qubits`` (3, 4, 5; default 5), ``depth`` (1–4; 3), ``circuits`` (2, 4, 6; 4),
      ``readout`` ('Y', 'X', 'Z'; 'Y');
    * classical: ``units`` of the Dense that replaces the circuits (10–80; 20);
    * both: ``learning_rate`` (1e-4–1e-2, log; 1e-3).
    """

    def __init__(self, input_shape=(28, 28, 1), num_classes: int = 10, *, quantum: bool = True, conv_blocks: int = 2,
                 backend: str | None = None, name=None, tunable=True):
        super().__init__(name=name or ("hqnn_parallel" if quantum else "hqnn_parallel_cnn"), tunable=tunable)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.quantum = quantum
        self.conv_blocks = conv_blocks
        self.backend = backend  # the simulator of every trial (None: the default)

    def build(self, hp):
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        if self.quantum:
            model = build_hqnn_parallel(
                self.input_shape, self.num_classes, conv_blocks=self.conv_blocks,
                qubits=hp.Choice("qubits", [3, 4, 5], default=5),
                depth=hp.Int("depth", 1, 4, default=3),
                circuits=hp.Choice("circuits", [2, 4, 6], default=4),
                readout=hp.Choice("readout", ["Y", "X", "Z"], default="Y"), backend=self.backend,
            )
        else:
            model = build_hqnn_parallel_cnn(
                self.input_shape, self.num_classes, conv_blocks=self.conv_blocks,
                units=hp.Int("units", 10, 80, step=10, default=20),
            )
        return compile_for(model, learning_rate=learning_rate)


class HQNNQuanvHyperModel(kt.HyperModel):
    """HQNN-Quanv: the trainable rotation's axis ('X', 'Y') and the learning rate (1e-4–1e-1, log; 1e-3)."""

    def __init__(self, input_shape=(14, 14, 1), num_classes: int = 10, *, backend: str | None = None,
                 name="hqnn_quanv", tunable=True):
        super().__init__(name=name, tunable=tunable)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.backend = backend

    def build(self, hp):
        model = build_hqnn_quanv(self.input_shape, self.num_classes,
                                 rotation=hp.Choice("rotation", ["X", "Y"], default="X"), backend=self.backend)
        return compile_for(model, learning_rate=hp.Float("learning_rate", 1e-4, 1e-1, sampling="log", default=1e-3))

