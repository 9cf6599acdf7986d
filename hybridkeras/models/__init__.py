"""Model builders, one module per architecture family, and the MODELS registry.

Every builder has the signature ``build_<name>(input_shape, num_classes, **hyperparameters)``
and returns an uncompiled Keras 3 model with a stable name (on Keras' backend; its quantum layers on the
state-vector engine unless given ``backend='tfq'``).
"""
import inspect

from hybridkeras.models.autoencoder_qfm import (
    adapt_front,
    build_autoencoder,
    build_autoencoder_classical,
    build_autoencoder_qfm,
    build_decoder,
    build_encoder,
    build_head,
    build_quantum_front,
    compose,
)
from hybridkeras.models.common import compile_for, output_kind, outputs_logits, runner_steps_per_execution
from hybridkeras.models.hqnn import (
    build_cnn1,
    build_cnn4,
    build_conv_block,
    build_hqnn_parallel,
    build_hqnn_parallel_cnn,
    build_hqnn_quanv,
    build_quanv_cnn,
)
from hybridkeras.models.distillation import (
    build_alexnet,
    build_authors_student,
    build_authors_student_3q,
    build_authors_student_4q,
    build_ensemble,
    build_joint_ensemble,
    build_lenet,
    build_quantum_student,
    build_student_3q,
    build_student_4q,
)
from hybridkeras.models.lcqhnn import (
    build_lcqhnn,
    build_lcqhnn_cnn,
    build_lcqhnn_cnn4,
    build_lcqhnn_cnn8,
    build_lcqhnn_cnn16,
)

MODELS = {
    "autoencoder-qfm": build_autoencoder_qfm,
    "autoencoder-classical": build_autoencoder_classical,
    "hqnn-parallel": build_hqnn_parallel,
    "hqnn-parallel-cnn": build_hqnn_parallel_cnn,
    "hqnn-quanv": build_hqnn_quanv,
    "cnn1": build_cnn1,
    "cnn4": build_cnn4,
    "lcqhnn": build_lcqhnn,
    "lcqhnn-cnn4": build_lcqhnn_cnn4,
    "lcqhnn-cnn8": build_lcqhnn_cnn8,
    "lcqhnn-cnn16": build_lcqhnn_cnn16,
    "lenet": build_lenet,
    "alexnet": build_alexnet,
    "student-3q": build_student_3q,
    "student-4q": build_student_4q,
    "student-authors-3q": build_authors_student_3q,
    "student-authors-4q": build_authors_student_4q,
    "ensemble-joint": build_joint_ensemble,
}


def get_builder(name: str):
    """The builder registered under ``name``."""
    if name not in MODELS:
        raise ValueError(f"Unknown model name. Expected one of {tuple(MODELS)}. Received: name={name!r}")
    return MODELS[name]


def takes_backend(builder) -> bool:
    """Whether ``builder`` accepts ``backend=`` (quantum models, and classical ones that ignore it)."""
    parameters = inspect.signature(builder).parameters.values()
    return any(p.name == "backend" or p.kind is p.VAR_KEYWORD for p in parameters)


def build_model(name: str, input_shape, num_classes: int, *, backend: str | None = None, **hyperparameters):
    """The registered model ``name`` with its quantum layers on ``backend`` (None: the default).

    Runners pass the backend of their config explicitly this way, to every model alike: a
    builder without quantum layers and without a ``backend`` argument (LeNet, AlexNet) is
    simply built without it.
    """
    builder = get_builder(name)
    if backend is not None and takes_backend(builder):
        hyperparameters["backend"] = backend
    return builder(input_shape, num_classes, **hyperparameters)


__all__ = [
    "MODELS", "adapt_front", "build_alexnet", "build_authors_student", "build_ensemble", "build_joint_ensemble", "build_authors_student_3q", "build_authors_student_4q", "build_lenet", "build_quantum_student",
    "build_student_3q", "build_student_4q", "build_cnn1", "build_cnn4", "build_conv_block", "build_hqnn_parallel",
    "build_hqnn_parallel_cnn", "build_hqnn_quanv", "build_quanv_cnn", "build_autoencoder", "build_autoencoder_classical", "build_autoencoder_qfm",
    "build_decoder", "build_lcqhnn", "build_lcqhnn_cnn", "build_lcqhnn_cnn4", "build_lcqhnn_cnn8",
    "build_lcqhnn_cnn16", "build_encoder", "build_head", "build_quantum_front", "build_model", "compile_for", "output_kind", "outputs_logits", "runner_steps_per_execution", "compose", "get_builder",
    "takes_backend",
]
