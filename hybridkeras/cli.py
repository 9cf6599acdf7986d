"""Command line: ``hybridkeras train | experiment | evaluate | tune | list``.

Examples:
    hybridkeras train autoencoder-qfm                 # bundled MNIST sample, no download
    hybridkeras evaluate saved_models/autoencoder-qfm
    hybridkeras train autoencoder-qfm --dataset mnist --data-dir ../shared/data/mnist --train-size 2000
    hybridkeras tune autoencoder-qfm --trials 4 --tuner bayesian
    hybridkeras train hqnn-parallel --epochs 5        # HQNN-Parallel vs its CNN, bundled sample
    hybridkeras train hqnn-quanv --seeds 0 1 2        # HQNN-Quanv vs CNN4 vs CNN1
    hybridkeras experiment hqnn-parallel-paper        # any named config (see `hybridkeras list`)
    hybridkeras tune hqnn-parallel --trials 3 --epochs 2
    hybridkeras train lcqhnn                          # LCQHNN vs CNN-4/8/16, MNIST 0 vs 1, Grad-CAM snapshots
    hybridkeras experiment lcqhnn-fashion             # FashionMNIST trouser vs shirt (Keras download)
    hybridkeras experiment noise-robustness --family hqnn-parallel --sweep 0 0.005 0.01 0.02 --seeds 0 1
    hybridkeras train distill                         # paper 4's table: teachers, students, gains
    hybridkeras distill --teacher lenet --student student-3q
    hybridkeras distill --teacher saved_models/my_cnn --student student-4q --temperature 4 --alpha 0.7
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

FAMILIES = ("autoencoder-qfm", "hqnn-parallel", "hqnn-quanv", "lcqhnn", "distill")

# CLI option → config field, by kind of config
_AE_FIELDS = {"ae_epochs": "--ae-epochs", "head_epochs": "--head-epochs", "reduction": "--reduction",
              "augment": "--augment"}
_EXPERIMENT_FIELDS = {"epochs": "--epochs", "seeds": "--seeds", "qubits": "--qubits", "depth": "--depth",
                      "circuits": "--circuits"}


def _number(kind, *, minimum=None, strict=True, maximum=None):
    """An argparse type: ``kind`` (int or float), finite, above ``minimum`` (or at least it when not
    ``strict``) and at most ``maximum``; anything else is a usage error naming the value."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}")
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if minimum is not None and (value <= minimum if strict else value < minimum):
            raise argparse.ArgumentTypeError(f"expected a value {'>' if strict else '>='} {minimum}, got {text!r}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected a value <= {maximum}, got {text!r}")
        return value
    parse.__name__ = kind.__name__
    return parse


POSITIVE_INT = _number(int, minimum=0)
COUNT = _number(int, minimum=0, strict=False)
POSITIVE = _number(float, minimum=0.0)


def _config_args(parser: argparse.ArgumentParser) -> None:
    from hybridkeras.data import DATASETS

    group = parser.add_argument_group("experiment settings (override the named config)")
    group.add_argument("--config", help="named config to start from (default: the model's own; see `hybridkeras list`)")
    group.add_argument("--dataset", choices=DATASETS, help="dataset; 'mnist_sample' (2,000 real digits shipped with the package) needs no download")
    group.add_argument("--data-dir", help="folder of IDX .gz files for mnist / fashion_mnist (else $HYBRIDKERAS_DATA_DIR, else Keras' download)")
    group.add_argument("--train-size", type=POSITIVE_INT, help="balanced training subset size (default: the whole training split)")
    group.add_argument("--val-size", type=POSITIVE_INT, help="balanced validation subset size (default: the whole validation split)")
    group.add_argument("--test-size", type=POSITIVE_INT, help="balanced test subset size (default: the whole test split)")
    group.add_argument("--ae-epochs", type=POSITIVE_INT, help="autoencoder epochs")
    group.add_argument("--head-epochs", type=POSITIVE_INT, help="epochs of each classifier head")
    group.add_argument("--batch-size", type=POSITIVE_INT, help="batch size of the classifier heads")
    group.add_argument("--learning-rate", type=POSITIVE, help="initial learning rate of the heads (Adam)")
    group.add_argument("--reduction", choices=("groups", "pca"),
                       help="how 64 codes reach 5 qubits: 'groups' (pad to 65, 13 circuits) or 'pca' (64→5 principal components)")
    group.add_argument("--readout", choices=("Z", "X", "Y", "probs"),
                       help="quantum readout: per-qubit ⟨P⟩ or basis-state probabilities (HQNN-Parallel: X/Y/Z; LCQHNN: Z/probs)")
    group.add_argument("--shots", type=COUNT, help="measurement shots per circuit (omit or 0 for exact expectations)")
    group.add_argument("--lr-schedule", choices=("plateau", "step", "none"), help="learning-rate scheduler of the heads")
    group.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help="small random rotations and shifts while training the autoencoder")
    group.add_argument("--seed", type=COUNT, help="seed of data splits, initialisation and shuffling")
    group.add_argument("--backend", choices=("tfq", "statevector"),
                       help="simulator of the quantum layers: TensorFlow Quantum (default) or the state-vector engine")
    group = parser.add_argument_group("experiment settings (hqnn-parallel, hqnn-quanv, lcqhnn and other experiment configs)")
    group.add_argument("--epochs", type=POSITIVE_INT, help="training epochs of every model (tune: epochs per trial)")
    group.add_argument("--seeds", type=COUNT, nargs="+", help="initialisation seeds (one run per model and seed)")
    group.add_argument("--qubits", type=POSITIVE_INT, help="HQNN-Parallel: qubits per circuit")
    group.add_argument("--depth", type=POSITIVE_INT, help="HQNN-Parallel: strongly entangling layers per circuit")
    group.add_argument("--circuits", type=POSITIVE_INT, help="HQNN-Parallel: parallel circuits")
    group = parser.add_argument_group("distillation settings (distill configs)")
    group.add_argument("--temperature", type=POSITIVE, help="distillation temperature T (paper: 3)")
    group.add_argument("--alpha", type=_number(float, minimum=0.0, strict=False, maximum=1.0), help="weight λ of the distillation term (paper: 0.9)")
    group.add_argument("--teacher-epochs", type=POSITIVE_INT, help="epochs of the teachers")
    group.add_argument("--per-class", type=POSITIVE_INT, help="training images per class (paper: 150)")
    group.add_argument("--teachers", nargs="+", help="teachers of the table (default: the config's; e.g. lenet)")
    group.add_argument("--students", nargs="+", help="students of the table (default: the config's; e.g. student-3q)")


def _experiment_config_from(args, config):
    for name, flag in _AE_FIELDS.items():
        if getattr(args, name, None) is not None:
            raise ValueError(f"{flag} applies only to autoencoder-qfm configs, not to {config.name!r}")
    config = config.replace(
        dataset=args.dataset, data_dir=args.data_dir, train_size=args.train_size, val_size=args.val_size,
        test_size=args.test_size, epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        seeds=tuple(args.seeds) if args.seeds else None,
        data_seed=args.seed,
    )
    if args.lr_schedule is not None:
        config = config.replace(lr_schedule=None if args.lr_schedule == "none" else args.lr_schedule)
    parallel = any(m.startswith("hqnn-parallel") for m in config.models)
    lcqhnn = "lcqhnn" in config.models
    circuit = {k: getattr(args, k) for k in ("qubits", "depth", "circuits") if getattr(args, k) is not None}
    if circuit and not parallel:
        raise ValueError(f"--qubits/--depth/--circuits apply to HQNN-Parallel configs, not to {config.name!r}")
    if args.readout is not None:
        circuit["readout"] = args.readout
    if args.shots:
        circuit.update(repetitions=args.shots, differentiator="parameter_shift")
    if circuit:
        if not (parallel or lcqhnn):
            raise ValueError(f"--readout/--shots apply to HQNN-Parallel and LCQHNN configs, not to {config.name!r}")
        allowed = ("X", "Y", "Z") if parallel else ("Z", "probs")
        if circuit.get("readout", allowed[0]) not in allowed:
            family = "HQNN-Parallel" if parallel else "LCQHNN"
            raise ValueError(f"--readout must be one of {', '.join(allowed)} for {family}. Received: {circuit['readout']}")
        config = config.with_model_kwargs(**circuit)
    return config


_DISTILL_FIELDS = {"temperature": "--temperature", "alpha": "--alpha", "teacher_epochs": "--teacher-epochs",
                   "per_class": "--per-class"}


def _distillation_config_from(args, config):
    for name, flag in {**_AE_FIELDS, **{k: v for k, v in _EXPERIMENT_FIELDS.items() if k not in ("epochs", "seeds")},
                       "train_size": "--train-size", "val_size": "--val-size", "readout": "--readout",
                       "lr_schedule": "--lr-schedule"}.items():
        if getattr(args, name, None) is not None:
            raise ValueError(f"{flag} does not apply to distillation config {config.name!r}")
    config = config.replace(
        dataset=args.dataset, data_dir=args.data_dir, test_size=args.test_size, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, data_seed=args.seed,
        seeds=tuple(args.seeds) if args.seeds else None,
        teachers=tuple(args.teachers) if getattr(args, "teachers", None) else None,
        students=tuple(args.students) if getattr(args, "students", None) else None,
        **{name: getattr(args, name, None) for name in _DISTILL_FIELDS},
    )
    if args.shots:  # every quantum student samples its circuit, trained with the parameter-shift rule (on TFQ)
        kwargs = {name: {**config.student_kwargs.get(name, {}), "repetitions": args.shots,
                         "differentiator": "parameter_shift"} for name in config.students}
        config = config.replace(student_kwargs={**config.student_kwargs, **kwargs})
    return config


def _config_from(args):
    from hybridkeras.training import DistillationConfig, ExperimentConfig, get_config

    base = get_config(args.config or ("distill" if args.command == "distill" else args.model))
    if isinstance(base, DistillationConfig):
        return _distillation_config_from(args, base)
    if args.command == "distill":
        raise ValueError(f"`distill` needs a distillation config (distill, distill-mnist-6, ...). Received: {base.name!r}")
    for name, flag in _DISTILL_FIELDS.items():
        if getattr(args, name, None) is not None:
            raise ValueError(f"{flag} applies only to distillation configs, not to {base.name!r}")
    if isinstance(base, ExperimentConfig):
        return _experiment_config_from(args, base)
    return _autoencoder_config_from(args, base)


def _autoencoder_config_from(args, config, *, allowed=()):
    """An autoencoder-qfm config with the command line's settings (``allowed``: experiment flags the caller uses)."""
    for name, flag in _EXPERIMENT_FIELDS.items():
        if name == "epochs" and args.command == "tune":
            continue  # epochs per trial
        if name not in allowed and getattr(args, name, None) is not None:
            raise ValueError(f"{flag} applies only to experiment configs, not to {config.name!r}")
    shots = None if args.shots in (None, 0) else args.shots
    config = config.replace(
        dataset=args.dataset,
        data_dir=args.data_dir,
        train_size=args.train_size,
        val_size=args.val_size,
        test_size=args.test_size,
        ae_epochs=args.ae_epochs,
        head_epochs=args.head_epochs,
        head_batch_size=args.batch_size,
        head_learning_rate=args.learning_rate,
        reduction=args.reduction,
        readout=args.readout,
        repetitions=shots,
        augment=args.augment,
        seed=args.seed,
    )
    if args.lr_schedule is not None:
        config = config.replace(lr_schedule=None if args.lr_schedule == "none" else args.lr_schedule)
    return config


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hybridkeras",
        description="Hybrid quantum-classical image classifiers on TensorFlow Quantum: train, evaluate, tune.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:" + __doc__.split("Examples:", 1)[1],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model family and export its models",
                           description="Train a model family (both the hybrid and its classical baseline) and export the models.")
    train.add_argument("model", choices=FAMILIES, help="model family to train (with its classical baseline)")
    _config_args(train)
    train.add_argument("--output", help="run directory for checkpoints and exports (default: saved_models/<config name>)")
    train.add_argument("--no-resume", action="store_true", help="start over instead of resuming an interrupted run in --output")
    train.add_argument("--tensorboard", action="store_true", help="write TensorBoard logs to <output>/logs")
    train.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"), default="default",
                       help="default (one device); mirrored (every device here: tf.distribute.MirroredStrategy on TensorFlow, "
                            "keras.distribution.DataParallel on JAX); multi-worker (refused on "
                            "Keras 3, naming why: keras-team/keras#20585; scale a search out with tune --workers N)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")

    experiment = sub.add_parser("experiment", help="run a named experiment config over its models and seeds",
                                description="Train every model of a named experiment config for every seed, then write "
                                            "per-epoch metrics, a mean ± std table (summary.csv / summary.md) and "
                                            "curves.png. Re-running resumes an interrupted experiment.")
    experiment.add_argument("model", metavar="CONFIG", help="named experiment config (see `hybridkeras list`)")
    _config_args(experiment)
    experiment.add_argument("--output", help="experiment folder (default: saved_models/<config name>)")
    experiment.add_argument("--no-resume", action="store_true", help="start over instead of resuming")
    experiment.add_argument("--tensorboard", action="store_true", help="TensorBoard logs per run")
    experiment.add_argument("--strategy", choices=("default", "mirrored", "multi-worker"), default="default",
                            help="default (one device); mirrored (every device here: tf.distribute.MirroredStrategy on TensorFlow, "
                                 "keras.distribution.DataParallel on JAX); multi-worker (refused on "
                                 "Keras 3, naming why: keras-team/keras#20585; scale a search out with tune --workers N)")
    experiment.add_argument("--quiet", action="store_true", help="no progress bars")
    group = experiment.add_argument_group("noise (noise-robustness; --noise also for any experiment config)")
    group.add_argument("--family", choices=("hqnn-parallel", "hqnn-quanv", "lcqhnn", "student-3q", "student-4q",
                                            "autoencoder-qfm"),
                       help="noise-robustness: the family whose hybrid is trained clean and noise-aware, then swept")
    group.add_argument("--channel", default="depolarize",
                       choices=("depolarize", "amplitude_damp", "phase_damp", "bit_flip", "phase_flip"),
                       help="noise-robustness: the channel, on every qubit after every moment (default: depolarize)")
    group.add_argument("--train-noise", type=float, default=0.01,
                       help="noise-robustness: the channel's p while training the noise-aware hybrid (default 0.01)")
    group.add_argument("--sweep", type=float, nargs="+",
                       help="noise-robustness: the p's every trained hybrid is evaluated at (default 0 … 0.1)")
    group.add_argument("--noise", help="an experiment config: train under this noise spec, JSON, e.g. "
                                       "'{\"depolarize\": 0.01, \"readout\": [0.02, 0.05]}'")

    evaluate = sub.add_parser("evaluate", help="score exports on held-out data and draw plots",
                              description="Print accuracy, a per-class report and the confusion matrix of every classifier "
                                          "in an export or run directory, and write PNG plots (confusion matrices, training "
                                          "curves, autoencoder reconstructions).")
    evaluate.add_argument("path", help="an export folder (hk.save_model) or a .keras / .h5 model file, or any folder train / experiment / tune / distill "
                                       "wrote (every model and seed in it is scored)")
    evaluate.add_argument("--dataset", help="evaluate on another dataset than the one recorded at training time")
    evaluate.add_argument("--data-dir", help="folder of IDX .gz files, if the recorded one moved")
    evaluate.add_argument("--split", choices=("test", "all"), default="test",
                          help="score the recorded test split (default) or every image of the dataset / --data-dir")
    evaluate.add_argument("--plots", help="where to write the PNGs and evaluation.json (default: <run dir>/plots)")
    evaluate.add_argument("--unsafe-load", action="store_true",
                          help="load models that hold stored Python bytecode (Lambda layers); only for trusted sources")

    tune = sub.add_parser("tune", help="Keras Tuner search over a family's hyperparameters",
                          description="Train the fixed parts once, search feature-map and head hyperparameters with Keras "
                                      "Tuner, and export the best end-to-end model to <output>/best.")
    tune.add_argument("model", choices=FAMILIES + ("hqnn-parallel-cnn", "lcqhnn-cnn"), help="model family to tune")
    _config_args(tune)
    tune.add_argument("--tuner", choices=("random", "hyperband", "bayesian"), default="random", help="search algorithm (default: random)")
    tune.add_argument("--trials", type=POSITIVE_INT, default=10, help="number of trials (default: 10)")
    tune.add_argument("--output", help="tuning directory (default: saved_models/<config name>-tuning)")
    tune.add_argument("--overwrite", action="store_true", help="discard an earlier search in --output instead of resuming it")
    tune.add_argument("--workers", type=POSITIVE_INT,
                      help="run the search as a chief and N worker processes on this machine (Keras Tuner's distributed "
                           "mode on 127.0.0.1, each worker pinned to its share of the CPUs); on a cluster start the same "
                           "command in every process with KERASTUNER_TUNER_ID / _ORACLE_IP / _ORACLE_PORT instead")
    tune.add_argument("--quiet", action="store_true", help="no progress bars")

    distill = sub.add_parser("distill", help="distil a classical teacher into a quantum student",
                             description="Train (or load) a teacher, distil it into a fresh quantum student with the "
                                         "Distiller (T² · KL of softened outputs + cross-entropy), and export the "
                                         "student on its own to <output>/student.")
    distill.add_argument("--teacher", default="lenet",
                         help="lenet, alexnet, ensemble (of the config's teachers), or the path of any saved Keras classifier")
    distill.add_argument("--student", default="student-3q", help="student-3q or student-4q (default: student-3q)")
    _config_args(distill)
    distill.add_argument("--output", help="folder for the teacher and the student (default: saved_models/<config>-<teacher>-<student>)")
    distill.add_argument("--quiet", action="store_true", help="no progress bars")
    distill.add_argument("--unsafe-load", action="store_true",
                         help="load a --teacher that holds stored Python bytecode (Lambda layers); only for trusted sources")

    sub.add_parser("list", help="list model families and named configs")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    args = parser.parse_args(argv)
    import hybridkeras  # noqa: F401  (sets up the stack before TensorFlow loads)
    from hybridkeras._stack import StackError
    from hybridkeras.io import ModelLoadError

    try:
        if getattr(args, "workers", None):
            return _launch(args, argv)
        return _run(args)
    except (ValueError, FileNotFoundError, FileExistsError, ModelLoadError, StackError) as exc:
        parser.exit(2, f"hybridkeras {args.command}: error: {exc}\n")


def _launch(args, argv) -> int:
    """``tune ... --workers N``: this process is the chief, N processes run ``tune ...`` as workers."""
    from hybridkeras.tuning import distributed

    if distributed.role() is not None:
        raise ValueError("--workers starts its own chief and workers on 127.0.0.1; do not combine it with "
                         f"{distributed.IP_ENV} / {distributed.ID_ENV} (those make this process one part of a search)")
    workers, args.workers = args.workers, None
    return distributed.launch(_without_option(argv, "--workers"), workers, run_chief=lambda: _run(args))


def _without_option(argv, flag: str) -> list:
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
        elif item == flag:
            skip = True
        elif not item.startswith(flag + "="):
            out.append(item)
    return out


def _run(args) -> int:

    if args.command == "list":
        from hybridkeras.models import MODELS
        from hybridkeras.training import CONFIGS

        print("model families:", ", ".join(FAMILIES))
        print("registered builders:", ", ".join(MODELS))
        print("named configs:")
        for name, config in CONFIGS.items():
            print(f"  {name:28s} {config.notes}")
        print(f"  {'noise-robustness':28s} experiment: a family's hybrid clean and noise-aware over a noise sweep "
              "(--family, --channel, --sweep)")
        return 0
    if args.command == "evaluate":
        from hybridkeras.training.evaluation import evaluate_export

        evaluate_export(args.path, dataset=args.dataset, data_dir=args.data_dir, plots_dir=args.plots,
                        safe_mode=not args.unsafe_load, split=args.split)
        return 0

    if args.command == "experiment" and args.model == "noise-robustness":
        return _run_noise_robustness(args, 0 if args.quiet else 1)
    if args.command == "experiment" and (args.family is not None or args.sweep is not None):
        raise ValueError("--family and --sweep belong to `hybridkeras experiment noise-robustness`")

    if args.command == "tune" and args.model in ("hqnn-parallel-cnn", "lcqhnn-cnn") and not args.config:
        args.config = args.model.rsplit("-", 1)[0]
    config = _config_from(args).replace(backend=getattr(args, "backend", None))  # explicit, recorded with the run
    verbose = 0 if args.quiet else 1
    from hybridkeras.training import DistillationConfig, ExperimentConfig

    if isinstance(config, DistillationConfig):
        return _run_distillation(args, config, verbose)
    if isinstance(config, ExperimentConfig):
        if getattr(args, "noise", None):
            config = config.replace(noise=_noise_spec(args.noise))
        return _run_experiment(args, config, verbose)
    if args.command == "experiment":
        raise ValueError(f"{config.name!r} is a pipeline config; run it with `hybridkeras train autoencoder-qfm`")
    if args.command == "train":
        from hybridkeras.training import train_autoencoder_qfm

        output = args.output or f"saved_models/{config.name}"
        result = train_autoencoder_qfm(config, output_dir=output, resume=not args.no_resume, strategy=args.strategy,
                                       tensorboard=args.tensorboard, verbose=verbose)
        print(result.dataset.summary())
        print(json.dumps(result.metrics, indent=2))
        for role, path in result.exports.items():
            print(f"saved {role:12s} -> {path}")
        print(f"next: hybridkeras evaluate {output}")
        return 0
    from hybridkeras.tuning import tune_autoencoder_qfm

    output = args.output or f"saved_models/{config.name}-tuning"
    summary = tune_autoencoder_qfm(config, output_dir=output, tuner=args.tuner, max_trials=args.trials,
                                   epochs=args.epochs, overwrite=args.overwrite, verbose=verbose)
    print(json.dumps(summary, indent=2))
    return 0


def _run_distillation(args, config, verbose: int) -> int:
    from pathlib import Path

    if getattr(args, "strategy", "default") == "multi-worker":
        raise ValueError(f"--strategy multi-worker is not supported for distillation configs ({config.name!r}); "
                         "use --strategy mirrored, or distribute `tune distill` over workers (--workers)")

    if args.command == "tune":
        from hybridkeras.tuning import tune_distillation

        output = args.output or f"saved_models/{config.name}-tuning"
        summary = tune_distillation(config, output_dir=output, tuner=args.tuner, max_trials=args.trials,
                                    epochs=args.epochs, overwrite=args.overwrite, verbose=verbose)
        print(json.dumps(summary, indent=2))
        return 0
    if args.command == "distill":
        from hybridkeras.io import save_model
        from hybridkeras.models import compile_for
        from hybridkeras.training.distillation import build_student, distill, distillation_dataset, load_teacher

        label = Path(args.teacher).name if Path(args.teacher).exists() else args.teacher
        output = Path(args.output or f"saved_models/{config.name}-{label}-{args.student}")
        seed = config.seeds[0]
        data = distillation_dataset(config, config.split_seed(seed))
        teacher = load_teacher(config, args.teacher, data, seed, output / "teacher", verbose=verbose,
                               safe_mode=not args.unsafe_load)
        student = build_student(config, args.student, data, seed)
        distill(student, teacher, data, temperature=config.temperature, alpha=config.alpha, epochs=config.epochs,
                batch_size=config.batch_size, learning_rate=config.learning_rate, verbose=verbose,
                ce_weight=config.ce_weight, seed=seed)
        compile_for(student, learning_rate=config.learning_rate)
        metrics = {"teacher_test_accuracy": float(teacher.evaluate(data.x_test, data.y_test, verbose=0)[1]),
                   "student_test_accuracy": float(student.evaluate(data.x_test, data.y_test, verbose=0)[1]),
                   "temperature": config.temperature, "alpha": config.alpha}
        export = save_model(student, output / "student", metadata={
            "role": f"{args.student} from {label}", "experiment": config.name, "seed": seed, "metrics": metrics,
            "data": config.data_spec(seed).record(data)})
        print(data.summary())
        print(json.dumps(metrics, indent=2))
        print(f"saved student -> {export}\nnext: hybridkeras evaluate {export}")
        return 0
    from hybridkeras.training import run_distillation

    output = args.output or f"saved_models/{config.name}"
    result = run_distillation(config, output, resume=not args.no_resume, verbose=verbose,
                              strategy=getattr(args, "strategy", "default"))
    print(result.markdown)
    print(f"tables: {output}/summary.md, {output}/summary.csv; models: {output}/seed<k>/...")
    return 0


def _run_experiment(args, config, verbose: int) -> int:
    if args.command == "tune":
        from hybridkeras.tuning import tune_experiment

        output = args.output or f"saved_models/{config.name}-{args.model}-tuning"
        summary = tune_experiment(config, args.model, output_dir=output, tuner=args.tuner, max_trials=args.trials,
                                  epochs=args.epochs, overwrite=args.overwrite, verbose=verbose)
        print(json.dumps(summary, indent=2))
        return 0
    from hybridkeras.training import run_experiment

    output = args.output or f"saved_models/{config.name}"
    result = run_experiment(config, output, resume=not args.no_resume, verbose=verbose, strategy=args.strategy,
                            tensorboard=args.tensorboard)
    print(result.markdown)
    print(f"tables: {output}/summary.md, {output}/summary.csv; curves: {output}/curves.png")
    print(f"models: {output}/<model>/seed<k>/model  (hybridkeras evaluate <that path>)")
    return 0


def _noise_spec(text: str) -> dict:
    try:
        spec = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"--noise must be a JSON noise spec such as '{{\"depolarize\": 0.01}}'. Received: {text!r}") from exc
    if not isinstance(spec, dict):
        raise ValueError(f"--noise must be a JSON object (a named noise spec). Received: {text!r}")
    return spec


def _run_noise_robustness(args, verbose: int) -> int:
    from hybridkeras.training import CONFIGS, NoiseRobustnessConfig, run_noise_robustness
    from hybridkeras.training.noise_robustness import DEFAULT_SWEEP, FAMILIES as NOISE_FAMILIES

    if args.family is None:
        raise ValueError("`hybridkeras experiment noise-robustness` needs --family (one of "
                         f"{tuple(NOISE_FAMILIES)})")
    NoiseRobustnessConfig(family=args.family, experiment=args.config)  # a bad family or config: refused here
    base = CONFIGS[args.config or NOISE_FAMILIES[args.family][0]]
    kind = NOISE_FAMILIES[args.family][0]
    if kind == "distill":
        from_args = _distillation_config_from
    elif kind == "autoencoder-qfm":  # one seed per pipeline run: the experiment takes --seeds itself
        from_args = lambda args, config: _autoencoder_config_from(args, config, allowed=("seeds",))  # noqa: E731
    else:
        from_args = _experiment_config_from
    changed = from_args(args, base).replace(backend=getattr(args, "backend", None))
    before, after = base.to_dict(), changed.to_dict()
    overrides = {k: v for k, v in after.items() if v != before[k]}
    seeds = tuple(args.seeds) if args.seeds and kind == "autoencoder-qfm" else None
    config = NoiseRobustnessConfig(family=args.family, channel=args.channel, train_noise=args.train_noise,
                                   sweep=tuple(args.sweep) if args.sweep else DEFAULT_SWEEP,
                                   experiment=args.config, overrides=overrides, seeds=seeds)
    output = args.output or f"saved_models/{config.name}"
    run_noise_robustness(config, output, resume=not args.no_resume, verbose=verbose)
    print((Path(output) / "robustness.md").read_text())
    print(f"figure: {output}/robustness.png; data: {output}/robustness.json")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
