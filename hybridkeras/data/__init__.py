"""Datasets and preprocessing: loaders for MNIST, Fashion-MNIST, digits and local IDX folders."""
from hybridkeras.data.idx import read_idx, write_idx
from hybridkeras.data.loaders import DATA_DIR_ENV, DATASETS, Dataset, load, read_idx_folder
from hybridkeras.data.spec import DataSpec
from hybridkeras.data.preprocessing import (
    balanced_subset,
    binarise,
    check_finite,
    filter_classes,
    make_augmenter,
    normalize_images,
    resize_images,
    stratified_split,
)

__all__ = [
    "DATASETS", "DATA_DIR_ENV", "DataSpec", "Dataset", "balanced_subset", "binarise", "check_finite", "filter_classes",
    "load", "make_augmenter", "normalize_images", "read_idx", "read_idx_folder", "resize_images",
    "stratified_split", "write_idx",
]
