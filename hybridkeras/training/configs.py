"""Named experiment configurations (the paper's settings, a default that runs here, a tiny one for tests)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AutoencoderQFMConfig:
    """Settings of the autoencoder + quantum feature map experiment (paper 1)."""

    name: str = "autoencoder-qfm"
    # data
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    train_size: int | None = None
    val_size: int | None = None
    test_size: int | None = None
    validation_split: float = 0.1
    test_split: float = 0.2
    augment: bool = False
    # autoencoder stage
    latent_dim: int = 64
    hidden_units: int = 256
    ae_epochs: int = 30
    ae_batch_size: int = 64
    ae_learning_rate: float = 1e-3
    # quantum feature map
    reduction: str = "groups"
    qubits: int = 5
    readout: str = "Z"
    repetitions: int | None = None
    # heads (classical and hybrid share the architecture)
    head_units: tuple = (256, 128, 64)
    dropout: float = 0.3
    head_epochs: int = 60
    head_batch_size: int = 64
    head_learning_rate: float = 1e-3
    lr_schedule: str | None = "plateau"
    early_stopping: int | None = 15
    seed: int = 0
    notes: str = field(default="", compare=False)

    def replace(self, **changes) -> "AutoencoderQFMConfig":
        """A copy with ``changes`` applied (None values are ignored, unknown keys rejected)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"Unknown config fields {unknown}. Expected some of {sorted(known)}")
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CONFIGS = {
    # Runs anywhere, no download: 2,000 real MNIST digits shipped with the package.
    "autoencoder-qfm": AutoencoderQFMConfig(notes="default: bundled MNIST sample, 13 circuits of 5 codes, exact ⟨Z⟩"),
    # The paper's setting on full MNIST (Keras download or HYBRIDKERAS_DATA_DIR).
    "autoencoder-qfm-paper": AutoencoderQFMConfig(
        name="autoencoder-qfm-paper",
        dataset="mnist",
        ae_epochs=50,
        ae_batch_size=256,
        head_epochs=50,
        augment=True,
        notes="paper: full MNIST, 50 autoencoder epochs",
    ),
    # 64 codes → 5 principal components → one 5-qubit circuit (the paper's later revision).
    "autoencoder-qfm-pca": AutoencoderQFMConfig(
        name="autoencoder-qfm-pca", reduction="pca", notes="PCA 64→5, one circuit per image"
    ),
    # Seconds-long settings for tests and notebooks' smoke runs.
    "autoencoder-qfm-tiny": AutoencoderQFMConfig(
        name="autoencoder-qfm-tiny",
        dataset="digits",
        hidden_units=64,
        latent_dim=16,
        ae_epochs=3,
        head_epochs=3,
        head_units=(32, 16),
        early_stopping=None,
        notes="smoke test on scikit-learn digits",
    ),
}


def get_config(name: str, **overrides):
    """The named config with ``overrides`` applied."""
    if name not in CONFIGS:
        raise ValueError(f"Unknown config name. Expected one of {tuple(CONFIGS)}. Received: name={name!r}")
    return CONFIGS[name].replace(**overrides)
