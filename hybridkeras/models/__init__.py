"""Model builders, one module per architecture family, and the MODELS registry.

Every builder has the signature ``build_<name>(input_shape, num_classes, **hyperparameters)``
and returns an uncompiled tf_keras model with a stable name.
"""
from hybridkeras.models.autoencoder_qfm import (
    adapt_front,
    build_autoencoder,
    build_autoencoder_classical,
    build_autoencoder_qfm,
    build_decoder,
    build_encoder,
    build_head,
    build_quantum_front,
    compile_for,
    compose,
)

MODELS = {
    "autoencoder-qfm": build_autoencoder_qfm,
    "autoencoder-classical": build_autoencoder_classical,
}


def get_builder(name: str):
    """The builder registered under ``name``."""
    if name not in MODELS:
        raise ValueError(f"Unknown model name. Expected one of {tuple(MODELS)}. Received: name={name!r}")
    return MODELS[name]


__all__ = [
    "MODELS", "adapt_front", "build_autoencoder", "build_autoencoder_classical", "build_autoencoder_qfm",
    "build_decoder", "build_encoder", "build_head", "build_quantum_front", "compile_for", "compose", "get_builder",
]
