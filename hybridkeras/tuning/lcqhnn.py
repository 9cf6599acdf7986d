"""HyperModel for paper 3: LCQHNN and its CNN-p baselines."""
from __future__ import annotations

import keras_tuner as kt

from hybridkeras.models import build_lcqhnn, build_lcqhnn_cnn, compile_for


class LCQHNNHyperModel(kt.HyperModel):
    """LCQHNN (``quantum=True``) or CNN-p (``quantum=False``) on the shared extractor.

    Hyperparameters, defaults = the package's defaults:

    * extractor: ``filters1`` (4, 8, 16; 8), ``filters2`` (8, 16, 32; 16), ``hidden_units``
      (64, 128, 256; 256), ``dropout`` (0.0–0.5, step 0.1; 0.5);
    * quantum: ``readout`` ('Z', 'probs'; 'Z');
    * classical: ``parameters`` of the module that replaces the block (4, 8, 16; 16);
    * both: ``learning_rate`` (1e-4–1e-2, log; 1e-3).
    """

    def __init__(self, input_shape=(28, 28, 1), num_classes: int = 2, *, quantum: bool = True,
                 backend: str | None = None, name=None, tunable=True):
        super().__init__(name=name or ("lcqhnn" if quantum else "lcqhnn_cnn"), tunable=tunable)
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.quantum = quantum
        self.backend = backend  # the simulator of every trial (None: the default)

    def build(self, hp):
        common = dict(
            filters=(hp.Choice("filters1", [4, 8, 16], default=8), hp.Choice("filters2", [8, 16, 32], default=16)),
            hidden_units=hp.Choice("hidden_units", [64, 128, 256], default=256),
            dropout=hp.Float("dropout", 0.0, 0.5, step=0.1, default=0.5),
        )
        if self.quantum:
            model = build_lcqhnn(self.input_shape, self.num_classes,
                                 readout=hp.Choice("readout", ["Z", "probs"], default="Z"), backend=self.backend,
                                 **common)
        else:
            model = build_lcqhnn_cnn(self.input_shape, self.num_classes,
                                     parameters=hp.Choice("parameters", [4, 8, 16], default=16), **common)
        learning_rate = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log", default=1e-3)
        return compile_for(model, learning_rate=learning_rate)
