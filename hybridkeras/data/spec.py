"""`DataSpec`: the one description of a run's data — what every config maps to, what `load` gets,
what an export records and what `evaluate` rebuilds its split from."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from hybridkeras.data.loaders import Dataset, load


@dataclass(frozen=True)
class DataSpec:
    """The data settings of a run (see `hybridkeras.data.load` for each field).

    ``spec.load()`` gives the `Dataset`; ``spec.record(data)`` the JSON-ready dict stored with
    exports (folder resolved, class names added); ``DataSpec.from_record(record)`` reads it back,
    so a test split is rebuilt exactly from what was recorded.
    """

    dataset: str
    data_dir: str | None = None
    classes: tuple | None = None
    train_size: int | None = None
    val_size: int | None = None
    test_size: int | None = None
    validation_split: float = 0.1
    test_split: float = 0.2
    resize: tuple | None = None
    seed: int = 0
    sampling: str = "random"
    train_part: str = "subset"

    @classmethod
    def of(cls, config, seed: int | None = None) -> "DataSpec":
        """The data of ``config`` (any runner's config; fields it lacks take their defaults), split with
        ``seed`` (default: the config's ``seed``, else 0)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"seed"}
        values = {name: getattr(config, name) for name in names if hasattr(config, name)}
        return cls(seed=getattr(config, "seed", 0) if seed is None else seed, **values)

    @classmethod
    def from_record(cls, record: dict) -> "DataSpec":
        """The spec an export recorded (`record`); keys it does not know (class names) are skipped."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})

    def __post_init__(self):
        for name in ("classes", "resize"):  # lists from JSON, tuples from configs: one value
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))

    def load(self) -> Dataset:
        return load(self.dataset, self.data_dir, classes=self.classes, train_size=self.train_size,
                    val_size=self.val_size, test_size=self.test_size, validation_split=self.validation_split,
                    test_split=self.test_split, resize=self.resize, seed=self.seed, sampling=self.sampling,
                    train_part=self.train_part)

    def every_image(self) -> "DataSpec":
        """The same source, classes and size, without the subset sizes: every image is in one of the splits."""
        return dataclasses.replace(self, train_size=None, val_size=None, test_size=None, sampling="random",
                                   train_part="subset")

    def record(self, data: Dataset | None = None) -> dict:
        """The spec as JSON-ready values (the data folder made absolute), with ``data``'s class names."""
        record = dataclasses.asdict(self)
        record["data_dir"] = None if self.data_dir is None else str(Path(self.data_dir).resolve())
        for name in ("classes", "resize"):
            record[name] = None if record[name] is None else list(record[name])
        if data is not None:
            record["class_names"] = list(data.class_names)
        return record
