"""nnkit: the course library for *Neural networks from scratch*.

Students and the autograder import it. It gives gradient checking
(:mod:`nnkit.gradcheck`), data sets (:mod:`nnkit.data`), a training loop for
numpy models (:class:`nnkit.solver.Solver`), plots (:mod:`nnkit.plots`) and
PyTorch helpers (:func:`pick_device`, :func:`seed_everything`). It ships no
solution code for anything students implement.
"""

__version__ = "0.1.0"

from nnkit.gradcheck import (  # noqa: F401
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def pick_device(prefer=None):
    """Return the best available ``torch.device`` (cuda, then mps, then cpu).

    See :func:`nnkit.torch_utils.pick_device`.
    """
    from nnkit.torch_utils import pick_device as _pick

    return _pick(prefer)


def seed_everything(seed=0, deterministic=False):
    """Seed Python, numpy and torch (all devices). See :mod:`nnkit.torch_utils`."""
    from nnkit.torch_utils import seed_everything as _seed

    return _seed(seed, deterministic=deterministic)
