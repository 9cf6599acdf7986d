"""Notebooks run top to bottom with shrunken settings (injected after the `parameters` cell)."""

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO

NOTEBOOKS = {
    "01_autoencoder_quantum_features.ipynb": 'CONFIG = CONFIG.replace(ae_epochs=2, head_epochs=2, train_size=300)\nOUTPUT = {output!r}',
    "02_hqnn_parallel.ipynb": 'CONFIG = CONFIG.replace(epochs=1, train_size=200, test_size=100)\nOUTPUT = {output!r}',
    "03_hqnn_quanv.ipynb": 'CONFIG = CONFIG.replace(epochs=1, train_size=100, test_size=50, seeds=(0, 1))\nOUTPUT = {output!r}',
    "04_lcqhnn.ipynb": 'CONFIG = CONFIG.replace(epochs=2, report_epochs=(1, 2), gradcam_epochs=(0, 2))\nOUTPUT = {output!r}',
    "05_distillation.ipynb": 'CONFIG = CONFIG.replace(epochs=1, teacher_epochs=1, seeds=(0,), per_class=20, val_per_class=5, '
                             'teacher_kwargs={{"alexnet": {{"fc_units": 32}}}})\nOUTPUT = {output!r}',
    "06_your_own_circuit.ipynb": 'HELLO_EPOCHS, MNIST_EXAMPLES, QCNN_EXAMPLES, EPOCHS = 30, 64, 32, 1\nOUTPUT = {output!r}',
    "07_noise.ipynb": 'import dataclasses\nCONFIG = dataclasses.replace(CONFIG, experiment="hqnn-parallel-tiny", sweep=(0.0, 0.05), '
                      'overrides={{"epochs": 1, "seeds": (0,), "train_size": 60, "val_size": 20, "test_size": 40}})\n'
                      'OUTPUT = {output!r}',
}
EXPORTS = {
    "01_autoencoder_quantum_features.ipynb": "hybrid",
    "02_hqnn_parallel.ipynb": "hqnn-parallel/seed0/model",
    "03_hqnn_quanv.ipynb": "hqnn-quanv/seed0/model",
    "04_lcqhnn.ipynb": "lcqhnn/seed42/model",
    "05_distillation.ipynb": "seed0/student-3q/from-ensemble/model",
    "06_your_own_circuit.ipynb": "QCNN",
    "07_noise.ipynb": "clean/hqnn-parallel/seed0/model",
}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow) if name.startswith(("05", "07")) else name
                                  for name in sorted(NOTEBOOKS)])  # 05 (42 s), 07 (41 s) behind -m slow: the time budget
@pytest.mark.timeout(1500)  # a whole notebook: up to 600 s a cell (its own limit), several cells
def test_notebook_runs_top_to_bottom(name, tmp_path):
    notebook = nbformat.read(REPO / "notebooks" / name, as_version=4)
    index = next(i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", []))
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(NOTEBOOKS[name].format(output=str(tmp_path / "run"))))
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    export = tmp_path / "run" / EXPORTS[name]
    assert (export / "model.keras").is_file() and (export / "hybridkeras.json").is_file()  # hk.save_model's folder
    results = [o for o in notebook.cells[-1].outputs if o.get("output_type") == "execute_result"]
    assert results, f"last cell printed no result: {notebook.cells[-1].outputs}"
    last = results[0]["data"]["text/plain"]
    assert float(last) == 0.0, f"reloaded model predicts differently: max difference {last}"
