"""nnkit.gradcheck against functions whose gradients are known in closed form."""

import numpy as np
import pytest

from nnkit.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_rel_error_definition():
    assert rel_error(1.0, 1.0) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(1 / 5)
    # the 1e-8 floor keeps two tiny numbers from dividing by zero
    assert rel_error(0.0, 1e-12) == pytest.approx(1e-12 / 1e-8)
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scalar_gradient_of_quadratic_and_sin(seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    x0 = x.copy()
    f = lambda v: 0.5 * v @ A @ v + np.sum(np.sin(v))
    num = eval_numerical_gradient(f, x)
    exact = 0.5 * (A + A.T) @ x0 + np.cos(x0)
    assert rel_error(num, exact) < 1e-8
    assert np.array_equal(x, x0) and num.dtype == np.float64


def test_verbose_prints_each_index(capsys):
    x = np.array([1.0, 2.0])
    eval_numerical_gradient(lambda v: np.sum(v**2), x, verbose=True)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("(0,)")


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_array_gradient_of_elementwise_and_matmul(shape):
    rng = np.random.default_rng(len(shape))
    x = rng.standard_normal(shape)
    x_before = x.copy()
    df = rng.standard_normal(shape)
    num = eval_numerical_gradient_array(np.tanh, x, df)
    assert rel_error(num, df * (1 - np.tanh(x_before) ** 2)) < 1e-8
    assert np.array_equal(x, x_before)

    W = rng.standard_normal((shape[-1], 5))
    dout = rng.standard_normal(shape[:-1] + (5,))
    num = eval_numerical_gradient_array(lambda v: v @ W, x, dout)
    assert rel_error(num, dout @ W.T) < 1e-8


def test_array_gradient_restores_x_bit_for_bit():
    # values where x + h - h != x in floating point
    x = np.array([0.1, 1e10, -3.3e-7, 123.456])
    before = x.copy()
    eval_numerical_gradient_array(lambda v: v * 2, x, np.ones(4))
    assert x.tobytes() == before.tobytes()


def test_array_gradient_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="upstream gradient"):
        eval_numerical_gradient_array(lambda v: v.sum(keepdims=True), np.ones(3), np.ones(3))


def test_integer_input_is_refused_with_the_fix():
    with pytest.raises(TypeError, match="astype"):
        eval_numerical_gradient(lambda v: float(v.sum()), np.arange(3))


def test_grad_check_sparse_small_errors_for_exact_gradient(capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6))
    before = x.copy()
    f = lambda v: np.sum(np.exp(v) * 0.5)
    errs = grad_check_sparse(f, x, 0.5 * np.exp(before), num_checks=7, seed=0)
    assert len(errs) == 7 and max(errs) < 1e-7
    assert np.array_equal(x, before)
    assert len(capsys.readouterr().out.splitlines()) == 7


def test_grad_check_sparse_flags_a_wrong_gradient():
    x = np.random.default_rng(1).standard_normal(10)
    errs = grad_check_sparse(lambda v: np.sum(v**2), x, 3 * x, num_checks=5, seed=1, verbose=False)
    assert min(errs) > 0.1
