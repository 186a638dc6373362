"""Run under ``mpiexec -n 2 python -m mpi4py.futures tests/mpi_job.py OUT.npy`` by tests/test_engine.py."""

import sys

import numpy as np

import properspin as ps

if __name__ == "__main__":  # worker ranks may import this file; only rank 0 runs the job
    model = ps.models.rashba(1.0, 1.0, zeeman=(0.01, 0.0, 0.02))
    res = ps.conductivity(model, "proper_spin", fermi=np.linspace(-0.05, 0.3, 9), mesh=ps.mesh.disk(1.0, 60, 24),
                          engine=ps.Engine(chunk_size=200, scheduler="mpi"))
    assert res.attrs["executor"] == "mpi4py.futures"
    np.save(sys.argv[1], res.values)
