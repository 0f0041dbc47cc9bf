"""Test-wide settings."""
import os
import sys
from pathlib import Path

# pytest-xdist runs two workers on two cores, and each starts notebook kernels that train with
# torch: one OpenMP thread per process avoids the spin-wait oversubscription that can make a
# few-second cell take minutes.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
