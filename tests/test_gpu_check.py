"""benchmarks/gpu_check.py says it skipped, and succeeds, on a machine without a CUDA GPU."""

import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: run benchmarks/gpu_check.py itself")
def test_gpu_check_skips_without_a_gpu():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "gpu_check: skipped: no CUDA GPU" in proc.stdout
