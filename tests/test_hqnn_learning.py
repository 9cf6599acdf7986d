"""HQNN models learn real digits (../shared/data/mnist)."""
import pytest

from hybridkeras.training import get_config, run_experiment


def test_hqnn_quanv_learns_real_digits_quickly(mnist_dir, tmp_path):
    config = get_config("hqnn-quanv", dataset="mnist", data_dir=str(mnist_dir), models=("hqnn-quanv",), seeds=(0,),
                        train_size=500, test_size=200, epochs=5, learning_rate=0.01)
    result = run_experiment(config, tmp_path / "quanv", verbose=0, save_models=False, plots=False)
    assert result.runs["hqnn-quanv"][0]["test_accuracy"] >= 0.6  # chance is 0.1


@pytest.mark.slow
def test_reduced_hqnn_parallel_config_reaches_95_percent_on_real_digits(mnist_dir, tmp_path):
    """The acceptance run: config `hqnn-parallel` on the 8,000 shared digits (≈4 minutes here)."""
    config = get_config("hqnn-parallel", dataset="mnist", data_dir=str(mnist_dir), models=("hqnn-parallel",))
    result = run_experiment(config, tmp_path / "parallel", verbose=0, save_models=False, plots=False)
    assert result.runs["hqnn-parallel"][0]["test_accuracy"] >= 0.95
