"""Mutants of the numpy_nets assignment: realistic student mistakes and correct alternatives.

Every ``wrong`` mutant is the reference solution of one notebook with one mistake made in
one answer cell; ``must_fail`` names the test cells that must lose points because of it.
Every ``correct`` mutant rewrites answer cells in a different but correct way and must
keep full marks. Edits are textual replacements of the reference (``autograder.mutation.replace``),
applied to the master of the course being graded, so a changed reference makes the mutant fail
loudly instead of rotting. ``python -m autograder mutants numpy_nets`` grades them.
"""

from __future__ import annotations

from autograder.mutation import correct as _correct
from autograder.mutation import replace
from autograder.mutation import wrong as _wrong

A = "numpy_nets"
NB1 = "01_activations_and_affine.ipynb"
NB2 = "02_fully_connected_net.ipynb"
NB3 = "03_optimizers.ipynb"
NB4 = "04_dropout_and_normalization.ipynb"
NB5 = "05_putting_it_together.ipynb"


def edit(notebook, grade_id, *pairs):
    """Textual edits ``(old, new), ...`` of one reference cell (each ``old`` must occur exactly once)."""
    return [replace(old, new) for old, new in pairs]


def wrong(name, notebook, grade_id, pairs, must_fail):
    """One mistake: edits ``pairs`` of one answer cell; ``must_fail``: test cells that must lose points."""
    return _wrong(name, notebook, {grade_id: edit(notebook, grade_id, *pairs)}, must_fail)


def correct(name, notebook, cells):
    """``cells``: {grade_id: new full source, or edits}."""
    return _correct(name, notebook, cells)


WRONG_01 = [
    wrong("sigmoid_backward_uses_x", NB1, "sigmoid",
          [("    cache = out\n", "    cache = x\n"), ("    out = cache\n    dx = dout * out * (1.0 - out)", "    x = cache\n    dx = dout * x * (1.0 - x)")],
          ["test_sigmoid", "test_sigmoid_backward_hidden"]),
    wrong("sigmoid_overflows", NB1, "sigmoid",
          [("    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))", "    out = np.exp(x) / (1.0 + np.exp(x))")],
          ["test_sigmoid_extreme_hidden"]),
    wrong("tanh_backward_not_squared", NB1, "tanh",
          [("dx = dout * (1.0 - cache ** 2)", "dx = dout * (1.0 - cache)")],
          ["test_tanh", "test_tanh_backward_hidden"]),
    wrong("tanh_quotient_of_exponentials", NB1, "tanh",
          [("    out = np.tanh(x)", "    out = (np.exp(x) - np.exp(-x)) / (np.exp(x) + np.exp(-x))")],
          ["test_tanh_extreme_hidden"]),
    wrong("relu_backward_masks_by_dout", NB1, "relu",
          [("    dx = dout * (x > 0)", "    dx = np.where(dout > 0, dout, 0.0)")],
          ["test_relu_backward_hidden"]),
    wrong("relu_forward_in_place", NB1, "relu",
          [("    out = np.maximum(0, x)", "    x[x < 0] = 0\n    out = x")],
          ["test_relu_edge_hidden"]),
    wrong("leaky_relu_ignores_slope", NB1, "leaky_relu",
          [("    out = np.where(x > 0, x, negative_slope * x)", "    out = np.where(x > 0, x, 0.01 * x)")],
          ["test_leaky_relu_forward_hidden"]),
    wrong("leaky_relu_backward_drops_slope", NB1, "leaky_relu",
          [("    dx = dout * np.where(x > 0, 1.0, negative_slope)", "    dx = dout * (x > 0)")],
          ["test_leaky_relu_backward_hidden"]),
    wrong("elu_alpha_outside_the_bracket", NB1, "elu",
          [("    out = np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))",
            "    out = np.where(x > 0, x, alpha * np.exp(np.minimum(x, 0.0)) - 1.0)")],
          ["test_elu", "test_elu_forward_hidden"]),
    wrong("elu_backward_forgets_alpha", NB1, "elu",
          [("    dx = dout * np.where(x > 0, 1.0, out + alpha)", "    dx = dout * np.where(x > 0, 1.0, np.exp(x))")],
          ["test_elu_backward_hidden"]),
    wrong("gelu_tanh_approximation_as_exact", NB1, "gelu",
          [("        out = 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))",
            "        out = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))")],
          ["test_gelu_forward_hidden"]),
    wrong("gelu_backward_missing_pdf_term", NB1, "gelu",
          [("        dx = dout * (cdf + x * pdf)", "        dx = dout * cdf")],
          ["test_gelu", "test_gelu_backward_hidden"]),
    wrong("swish_backward_no_product_rule", NB1, "swish",
          [("    dx = dout * (s + beta * x * s * (1.0 - s))", "    dx = dout * s")],
          ["test_swish", "test_swish_backward_hidden"]),
    wrong("swish_ignores_beta", NB1, "swish",
          [("np.tanh(0.5 * beta * x)", "np.tanh(0.5 * x)")],
          ["test_swish_forward_hidden"]),
    wrong("affine_forward_no_flatten", NB1, "affine",
          [("    out = x.reshape(x.shape[0], -1) @ w + b", "    out = x @ w + b")],
          ["test_affine_forward_hidden"]),
    wrong("affine_dx_not_reshaped", NB1, "affine",
          [("    dx = (dout @ w.T).reshape(x.shape)", "    dx = dout @ w.T")],
          ["test_affine_backward_hidden"]),
    wrong("affine_db_mean", NB1, "affine",
          [("    db = dout.sum(axis=0)", "    db = dout.mean(axis=0)")],
          ["test_affine_backward", "test_affine_backward_hidden"]),
    wrong("softmax_no_max_shift", NB1, "softmax_loss",
          [("    shifted = x - x.max(axis=1, keepdims=True)", "    shifted = x")],
          ["test_softmax_loss_stable_hidden"]),
    wrong("softmax_shift_in_place", NB1, "softmax_loss",
          [("    shifted = x - x.max(axis=1, keepdims=True)", "    x -= x.max(axis=1, keepdims=True)\n    shifted = x")],
          ["test_softmax_loss_stable_hidden"]),
    wrong("softmax_dx_not_divided_by_n", NB1, "softmax_loss",
          [("    dx /= N\n", "")],
          ["test_softmax_loss", "test_softmax_loss_grad_hidden"]),
    wrong("softmax_loss_summed", NB1, "softmax_loss",
          [("    loss = -log_probs[np.arange(N), y].mean()", "    loss = -log_probs[np.arange(N), y].sum()")],
          ["test_softmax_loss_value_hidden"]),
    wrong("svm_counts_correct_class", NB1, "svm_loss",
          [("    margins[rows, y] = 0.0\n", "")],
          ["test_svm_loss", "test_svm_loss_value_hidden"]),
    wrong("svm_dx_missing_correct_class_term", NB1, "svm_loss",
          [("    dx[rows, y] -= violated.sum(axis=1)\n", "")],
          ["test_svm_loss", "test_svm_loss_grad_hidden"]),
    # -- conventions at the edges: the derivative at exactly 0 (issue 10)
    wrong("leaky_relu_backward_zero_at_zero", NB1, "leaky_relu",
          [("    dx = dout * np.where(x > 0, 1.0, negative_slope)", "    dx = dout * ((x > 0) + negative_slope * (x < 0))")],
          ["test_leaky_relu_backward_hidden"]),
    wrong("leaky_relu_backward_one_at_zero", NB1, "leaky_relu",
          [("    dx = dout * np.where(x > 0, 1.0, negative_slope)", "    dx = dout * np.where(x >= 0, 1.0, negative_slope)")],
          ["test_leaky_relu_backward_hidden"]),
    wrong("leaky_relu_forward_in_place", NB1, "leaky_relu",
          [("    out = np.where(x > 0, x, negative_slope * x)", "    x[x < 0] *= negative_slope\n    out = x")],
          ["test_leaky_relu_backward_hidden"]),
    wrong("elu_backward_one_at_zero", NB1, "elu",
          [("    dx = dout * np.where(x > 0, 1.0, out + alpha)", "    dx = dout * np.where(x >= 0, 1.0, out + alpha)")],
          ["test_elu_backward_hidden"]),
    wrong("elu_backward_zero_at_zero", NB1, "elu",
          [("    dx = dout * np.where(x > 0, 1.0, out + alpha)", "    dx = dout * ((x > 0) + (x < 0) * alpha * np.exp(np.minimum(x, 0.0)))")],
          ["test_elu_backward_hidden"]),
    # -- an argument that silently does nothing
    wrong("elu_backward_alpha_one", NB1, "elu",
          [("    x, out, alpha = cache\n    dx = dout * np.where(x > 0, 1.0, out + alpha)",
            "    x, out, alpha = cache\n    dx = dout * np.where(x > 0, 1.0, out + 1.0)")],
          ["test_elu_backward_hidden"]),
    wrong("leaky_relu_backward_default_slope", NB1, "leaky_relu",
          [("    x, negative_slope = cache\n    dx = dout * np.where(x > 0, 1.0, negative_slope)",
            "    x, negative_slope = cache\n    dx = dout * np.where(x > 0, 1.0, 0.01)")],
          ["test_leaky_relu_backward_hidden"]),
    # -- the extra credit (test_own_activation, 0 points of its own): losing the bonus counts as losing points
    wrong("own_activation_backward_sigmoid_doubled", NB1, "own_activation",
          [("    dx = dout * 0.5 * (1.0 + np.tanh(0.5 * x))", "    dx = dout * (1.0 + np.tanh(0.5 * x))")],
          ["test_own_activation"]),
    wrong("own_activation_linear", NB1, "own_activation",
          [("    out = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))", "    out = 2.0 * x + 1.0"),
           ("    dx = dout * 0.5 * (1.0 + np.tanh(0.5 * x))", "    dx = 2.0 * dout")],
          ["test_own_activation"]),
    wrong("own_activation_is_the_notebooks_swish", NB1, "own_activation",
          [("    out = np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))", "    out = x * 0.5 * (1.0 + np.tanh(0.5 * x))"),
           ("    dx = dout * 0.5 * (1.0 + np.tanh(0.5 * x))",
            "    s = 0.5 * (1.0 + np.tanh(0.5 * x))\n    dx = dout * (s + x * s * (1.0 - s))")],
          ["test_own_activation"]),
]

CORRECT_01 = [
    correct("alt_layers_01", NB1, {
        # sigmoid through tanh (stable), tanh through the sigmoid identity
        "sigmoid": edit(NB1, "sigmoid", ("    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows\n", ""),
                        ("    out = np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))", "    out = 0.5 * (1.0 + np.tanh(0.5 * x))"),
                        ("    cache = out\n", "    cache = x\n"),
                        ("    out = cache\n    dx = dout * out * (1.0 - out)", "    s = 0.5 * (1.0 + np.tanh(0.5 * cache))\n    dx = dout * s - dout * s * s")),
        "tanh": edit(NB1, "tanh", ("    out = np.tanh(x)\n    cache = out", "    out = 2.0 * sigmoid_forward(2.0 * x)[0] - 1.0\n    cache = out")),
        # relu and leaky relu with boolean masks and np.where on the cached output
        "relu": edit(NB1, "relu", ("    out = np.maximum(0, x)\n    cache = x", "    out = x * (x > 0)\n    cache = out"),
                     ("    x = cache\n    dx = dout * (x > 0)", "    dx = np.where(cache > 0, dout, 0.0)")),
        # swish through the stable sigmoid_forward
        "swish": edit(NB1, "swish", ("    s = 0.5 * (1.0 + np.tanh(0.5 * beta * x))  # sigmoid(beta * x), finite for any x",
                                     "    s, _ = sigmoid_forward(beta * x)")),
        "leaky_relu": edit(NB1, "leaky_relu", ("    out = np.where(x > 0, x, negative_slope * x)", "    out = np.maximum(x, 0) + negative_slope * np.minimum(x, 0)")),
        # ELU with exp of the clipped input, derivative alpha * exp(x)
        "elu": edit(NB1, "elu", ("    dx = dout * np.where(x > 0, 1.0, out + alpha)", "    dx = dout * np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))")),
        # GELU through the normal cdf of scipy
        "gelu": edit(NB1, "gelu", ("        out = 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))", "        from scipy.special import ndtr\n        out = x * ndtr(x)"),
                     ("        cdf = 0.5 * (1.0 + erf(x / np.sqrt(2.0)))", "        from scipy.stats import norm\n        cdf = norm.cdf(x)"),
                     ("        pdf = np.exp(-0.5 * x ** 2) / np.sqrt(2.0 * np.pi)", "        pdf = norm.pdf(x)")),
        # affine with tensordot / einsum
        "affine": edit(NB1, "affine", ("    out = x.reshape(x.shape[0], -1) @ w + b", "    out = np.tensordot(x, w.reshape(x.shape[1:] + (w.shape[1],)), axes=x.ndim - 1) + b"),
                       ("    dw = x.reshape(x.shape[0], -1).T @ dout", "    dw = np.einsum('nd,nm->dm', x.reshape(len(x), -1), dout)"),
                       ("    db = dout.sum(axis=0)", "    db = np.einsum('nm->m', dout)")),
        # softmax through scipy's logsumexp; one-hot matrix for the gradient
        "softmax_loss": edit(NB1, "softmax_loss",
                             ("    shifted = x - x.max(axis=1, keepdims=True)\n    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                              "    from scipy.special import logsumexp\n    log_probs = x - logsumexp(x, axis=1, keepdims=True)"),
                             ("    dx = np.exp(log_probs)\n    dx[np.arange(N), y] -= 1.0\n    dx /= N",
                              "    dx = (np.exp(log_probs) - np.eye(x.shape[1])[y]) / N")),
        # SVM with a boolean mask and np.where
        "svm_loss": edit(NB1, "svm_loss",
                         ("    margins = np.maximum(0.0, x - x[rows, y][:, None] + 1.0)\n    margins[rows, y] = 0.0",
                          "    not_y = np.ones_like(x, dtype=bool)\n    not_y[rows, y] = False\n    margins = np.where(not_y, np.maximum(0.0, x - x[rows, y][:, None] + 1.0), 0.0)"),
                         ("    violated = (margins > 0).astype(x.dtype)\n    dx = violated\n    dx[rows, y] -= violated.sum(axis=1)\n    dx /= N",
                          "    violated = margins > 0\n    dx = violated / N\n    dx[rows, y] = -violated.sum(axis=1) / N")),
    }),
]

# ---------------------------------------------------------------- 02: init, network, XOR, overfit
WRONG_02 = [
    wrong("sgd_sign_error", NB2, "sgd",
          [('    next_w = w - config["learning_rate"] * dw', '    next_w = w + config["learning_rate"] * dw')],
          ["test_sgd", "test_sgd_hidden"]),
    wrong("xavier_uses_fan_in_only", NB2, "init",
          [("np.sqrt(2.0 / (fan_in + fan_out))", "np.sqrt(1.0 / fan_in)")],
          ["test_xavier_init_hidden"]),
    wrong("he_variance_used_as_std", NB2, "init",
          [("np.sqrt(2.0 / fan_in)", "(2.0 / fan_in)")],
          ["test_he_init_hidden"]),
    wrong("he_uses_fan_out", NB2, "init",
          [("np.sqrt(2.0 / fan_in)", "np.sqrt(2.0 / fan_out)")],
          ["test_he_init_hidden"]),
    wrong("fc_reg_missing_from_grads", NB2, "fc_net",
          [('            grads[f"W{l}"] += self.reg * W\n', "")],
          ["test_fc_gradcheck", "test_fc_loss_grads_hidden"]),
    wrong("fc_reg_without_half", NB2, "fc_net",
          [("loss += 0.5 * self.reg * np.sum(W * W)", "loss += self.reg * np.sum(W * W)")],
          ["test_fc_loss_grads_hidden"]),
    wrong("fc_ignores_seed", NB2, "fc_net",
          [("                W = weight_scale * rng.standard_normal((fan_in, fan_out))",
            "                W = weight_scale * np.random.standard_normal((fan_in, fan_out))")],
          ["test_fc_init_hidden"]),
    wrong("fc_relu_on_scores", NB2, "fc_net",
          [('        scores, last_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])',
            '        scores, last_cache = affine_relu_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])'),
           ('        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)',
            '        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_relu_backward(dscores, last_cache)')],
          ["test_fc_scores_hidden", "test_fc_loss_grads_hidden"]),
    wrong("xor_without_hidden_layer", NB2, "train_xor",
          [("FullyConnectedNet([8], input_dim=2", "FullyConnectedNet([], input_dim=2")],
          ["test_train_xor", "test_train_xor_hidden"]),
    wrong("overfit_learning_rate_too_small", NB2, "overfit",
          [('num_classes=10, init="he", seed=0)', "num_classes=10, seed=0)"),
           ('optim_config={"learning_rate": 0.05}', 'optim_config={"learning_rate": 1e-3}')],
          ["test_overfit", "test_overfit_hidden"]),
    # -- architecture details: initialisation (issue 10)
    wrong("xavier_uniform_not_centred", NB2, "init",
          [("    W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))",
            "    W = rng.random((fan_in, fan_out)) * np.sqrt(6.0 / (fan_in + fan_out))")],
          ["test_xavier_init_hidden"]),
    wrong("he_uniform_on_zero_to_b", NB2, "init",
          [("    W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)",
            "    W = rng.uniform(0.0, np.sqrt(24.0 / fan_in), size=(fan_in, fan_out))  # std sqrt(2 / fan_in)")],
          ["test_he_init_hidden"]),
    wrong("xavier_operator_precedence", NB2, "init",
          [("np.sqrt(2.0 / (fan_in + fan_out))", "np.sqrt(2.0 / fan_in + fan_out)")],
          ["test_xavier_init_hidden"]),
    wrong("fc_init_none_uniform_not_centred", NB2, "fc_net",
          [("                W = weight_scale * rng.standard_normal((fan_in, fan_out))",
            "                W = rng.uniform(0, weight_scale * np.sqrt(12), size=(fan_in, fan_out))")],
          ["test_fc_init_hidden"]),
    # -- one generator for every draw: per-layer re-seeding
    wrong("fc_reseeds_rng_every_layer", NB2, "fc_net",
          [("            fan_in, fan_out = dims[l - 1], dims[l]\n",
            "            fan_in, fan_out = dims[l - 1], dims[l]\n            rng = np.random.default_rng(seed)\n")],
          ["test_fc_init_hidden"]),
    wrong("fc_seed_plus_layer_index", NB2, "fc_net",
          [("            fan_in, fan_out = dims[l - 1], dims[l]\n",
            "            fan_in, fan_out = dims[l - 1], dims[l]\n"
            "            rng = np.random.default_rng(None if seed is None else seed + l)\n")],
          ["test_fc_init_hidden"]),
    wrong("fc_xavier_init_own_generator", NB2, "fc_net",
          [("                W = xavier_init(fan_in, fan_out, rng)", "                W = xavier_init(fan_in, fan_out, np.random.default_rng(seed))")],
          ["test_fc_init_hidden"]),
    # -- an argument that silently does nothing
    wrong("fc_ignores_weight_scale", NB2, "fc_net",
          [("                W = weight_scale * rng.standard_normal((fan_in, fan_out))",
            "                W = 1e-2 * rng.standard_normal((fan_in, fan_out))")],
          ["test_fc_init_hidden"]),
    wrong("fc_reg_only_in_loss", NB2, "fc_net",
          [("            grads[f\"W{l}\"] += self.reg * W\n", "            grads[f\"W{l}\"] += 0.0 * W\n")],
          ["test_fc_loss_grads_hidden"]),
]

CORRECT_02 = [
    correct("alt_network_02", NB2, {
        "sgd": edit(NB2, "sgd", ('    next_w = w - config["learning_rate"] * dw', '    next_w = w.copy()\n    next_w -= config["learning_rate"] * dw')),
        "init": edit(NB2, "init", ("    W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))",
                                   "    W = rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=(fan_in, fan_out))"),
                     ("    W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)",
                      "    W = rng.normal(loc=0.0, scale=(2.0 / fan_in) ** 0.5, size=(fan_in, fan_out))")),
        # caches in a dict, layers without the sandwich helpers, regularisation folded differently
        "fc_net": edit(NB2, "fc_net",
                       ("        caches = []\n        h = X\n        for l in range(1, L):\n"
                        "            h, cache = affine_relu_forward(h, self.params[f\"W{l}\"], self.params[f\"b{l}\"])\n"
                        "            caches.append(cache)\n",
                        "        caches = {}\n        h = X\n        for l in range(1, L):\n"
                        "            a, caches[('fc', l)] = affine_forward(h, self.params[f\"W{l}\"], self.params[f\"b{l}\"])\n"
                        "            h, caches[('relu', l)] = relu_forward(a)\n"),
                       ("        for l in range(L - 1, 0, -1):\n"
                        "            dh, grads[f\"W{l}\"], grads[f\"b{l}\"] = affine_relu_backward(dh, caches[l - 1])\n"
                        "        for l in range(1, L + 1):\n            W = self.params[f\"W{l}\"]\n"
                        "            loss += 0.5 * self.reg * np.sum(W * W)\n            grads[f\"W{l}\"] += self.reg * W\n",
                        "        for l in reversed(range(1, L)):\n"
                        "            da = relu_backward(dh, caches[('relu', l)])\n"
                        "            dh, grads[f\"W{l}\"], grads[f\"b{l}\"] = affine_backward(da, caches[('fc', l)])\n"
                        "        weights = [self.params[f\"W{l}\"] for l in range(1, L + 1)]\n"
                        "        loss = loss + self.reg / 2 * sum(np.sum(W ** 2) for W in weights)\n"
                        "        for l, W in enumerate(weights, start=1):\n"
                        "            grads[f\"W{l}\"] = grads[f\"W{l}\"] + self.reg * W\n")),
        "train_xor": edit(NB2, "train_xor", ("FullyConnectedNet([8], input_dim=2, num_classes=2, init=\"he\", seed=0)",
                                             "FullyConnectedNet([16], input_dim=2, num_classes=2, init=\"xavier\", seed=3)"),
                          ('optim_config={"learning_rate": 0.5}', 'optim_config={"learning_rate": 0.3}'),
                          ("batch_size=50, num_epochs=200", "batch_size=20, num_epochs=150")),
    }),
]

# ---------------------------------------------------------------- 03: update rules, schedules, clipping
WRONG_03 = [
    wrong("momentum_sign_error", NB3, "sgd_momentum",
          [('    v = config["momentum"] * v - config["learning_rate"] * dw', '    v = config["momentum"] * v + config["learning_rate"] * dw')],
          ["test_sgd_momentum", "test_sgd_momentum_step_hidden", "test_sgd_momentum_trajectory_hidden"]),
    wrong("momentum_steps_with_gradient_only", NB3, "sgd_momentum",
          [("    next_w = w + v", '    next_w = w - config["learning_rate"] * dw')],
          ["test_sgd_momentum_step_hidden", "test_sgd_momentum_trajectory_hidden"]),
    wrong("nesterov_is_plain_momentum", NB3, "nesterov_momentum",
          [("    next_w = w - mu * v_prev + (1 + mu) * v", "    next_w = w + v")],
          ["test_nesterov_momentum", "test_nesterov_momentum_step_hidden", "test_nesterov_momentum_trajectory_hidden"]),
    wrong("adagrad_does_not_accumulate", NB3, "adagrad",
          [("    cache = cache + dw ** 2", "    cache = dw ** 2")],
          ["test_adagrad_step_hidden", "test_adagrad_trajectory_hidden"]),
    wrong("adagrad_epsilon_inside_root", NB3, "adagrad",
          [('np.sqrt(cache) + config["epsilon"]', 'np.sqrt(cache + config["epsilon"])')],
          ["test_adagrad_step_hidden"]),
    wrong("rmsprop_forgets_one_minus_rho", NB3, "rmsprop",
          [("    cache = rho * cache + (1 - rho) * dw ** 2", "    cache = rho * cache + dw ** 2")],
          ["test_rmsprop", "test_rmsprop_step_hidden", "test_rmsprop_trajectory_hidden"]),
    wrong("adam_no_bias_correction", NB3, "adam",
          [("    m_hat = config[\"m\"] / (1 - b1 ** t)\n    v_hat = config[\"v\"] / (1 - b2 ** t)",
            "    m_hat = config[\"m\"]\n    v_hat = config[\"v\"]")],
          ["test_adam", "test_adam_step_hidden", "test_adam_trajectory_hidden"]),
    wrong("adam_state_not_stored", NB3, "adam",
          [("    config[\"m\"] = b1 * config[\"m\"] + (1 - b1) * dw\n    config[\"v\"] = b2 * config[\"v\"] + (1 - b2) * dw ** 2\n"
            "    m_hat = config[\"m\"] / (1 - b1 ** t)\n    v_hat = config[\"v\"] / (1 - b2 ** t)",
            "    m = b1 * config[\"m\"] + (1 - b1) * dw\n    v = b2 * config[\"v\"] + (1 - b2) * dw ** 2\n"
            "    m_hat = m / (1 - b1 ** t)\n    v_hat = v / (1 - b2 ** t)")],
          ["test_adam", "test_adam_step_hidden", "test_adam_trajectory_hidden"]),
    wrong("adamw_as_l2_regularisation", NB3, "adamw",
          [("    config[\"t\"] += 1\n", "    config[\"t\"] += 1\n    dw = dw + config[\"weight_decay\"] * w\n"),
           ("    next_w = w * (1 - lr * config[\"weight_decay\"]) - lr", "    next_w = w - lr")],
          ["test_adamw", "test_adamw_step_hidden", "test_adamw_trajectory_hidden"]),
    wrong("adamw_decay_without_learning_rate", NB3, "adamw",
          [("w * (1 - lr * config[\"weight_decay\"])", "w * (1 - config[\"weight_decay\"])")],
          ["test_adamw_step_hidden"]),
    wrong("step_schedule_rounds", NB3, "schedules",
          [("base_lr * gamma ** np.floor(epoch / step_size)", "base_lr * gamma ** np.round(epoch / step_size)")],
          ["test_step_schedule_hidden"]),
    wrong("cosine_not_capped", NB3, "schedules",
          [("progress = min(epoch, total_epochs) / total_epochs", "progress = epoch / total_epochs")],
          ["test_cosine_schedule_hidden"]),
    wrong("warmup_off_by_one", NB3, "schedules",
          [("min(1.0, epoch / warmup_epochs)", "min(1.0, (epoch + 1) / warmup_epochs)")],
          ["test_schedules", "test_linear_warmup_hidden"]),
    wrong("clip_value_one_sided", NB3, "clipping",
          [("    clipped = np.clip(grad, -clip_value, clip_value)", "    clipped = np.minimum(grad, clip_value)")],
          ["test_clip_by_value_hidden"]),
    wrong("clip_each_array_by_its_own_norm", NB3, "clipping",
          [("    clipped = {k: g * scale for k, g in grads.items()}",
            "    clipped = {k: g * min(1.0, max_norm / max(np.linalg.norm(g), 1e-12)) for k, g in grads.items()}")],
          ["test_clipping", "test_clip_by_global_norm_hidden"]),
    wrong("clip_global_norm_in_place", NB3, "clipping",
          [("    clipped = {k: g * scale for k, g in grads.items()}",
            "    for g in grads.values():\n        g *= scale\n    clipped = grads")],
          ["test_clip_by_global_norm_hidden"]),
    # -- conventions at the edges: all-zero gradients in global-norm clipping (issue 10)
    wrong("clip_global_norm_divides_by_zero", NB3, "clipping",
          [("    scale = min(1.0, max_norm / total_norm) if total_norm > 0 else 1.0", "    scale = min(1.0, max_norm / total_norm)")],
          ["test_clip_by_global_norm_hidden"]),
    wrong("clip_global_norm_nan_for_zero_gradients", NB3, "clipping",
          [("    clipped = {k: g * scale for k, g in grads.items()}",
            "    clipped = {k: g / total_norm * min(total_norm, max_norm) for k, g in grads.items()}")],
          ["test_clip_by_global_norm_hidden"]),
    # -- an argument that silently does nothing
    wrong("momentum_ignores_momentum_setting", NB3, "sgd_momentum",
          [('    v = config["momentum"] * v - config["learning_rate"] * dw', '    v = 0.9 * v - config["learning_rate"] * dw')],
          ["test_sgd_momentum_step_hidden", "test_sgd_momentum_trajectory_hidden"]),
    wrong("rmsprop_ignores_epsilon", NB3, "rmsprop",
          [('np.sqrt(cache) + config["epsilon"]', "np.sqrt(cache) + 1e-8")],
          ["test_rmsprop_step_hidden", "test_rmsprop_trajectory_hidden"]),
    wrong("adam_ignores_beta2", NB3, "adam",
          [('    b1, b2 = config["beta1"], config["beta2"]', '    b1, b2 = config["beta1"], 0.999')],
          ["test_adam_step_hidden", "test_adam_trajectory_hidden"]),
    wrong("adamw_ignores_weight_decay", NB3, "adamw",
          [('w * (1 - lr * config["weight_decay"])', "w * (1 - lr * 1e-2)")],
          ["test_adamw", "test_adamw_step_hidden", "test_adamw_trajectory_hidden"]),
    wrong("step_schedule_ignores_gamma", NB3, "schedules",
          [("base_lr * gamma ** np.floor(epoch / step_size)", "base_lr * 0.1 ** np.floor(epoch / step_size)")],
          ["test_schedules", "test_step_schedule_hidden"]),
    wrong("cosine_ignores_min_lr", NB3, "schedules",
          [("        return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + np.cos(np.pi * progress))",
            "        return 0.5 * base_lr * (1.0 + np.cos(np.pi * progress))")],
          ["test_schedules", "test_cosine_schedule_hidden"]),
    wrong("warmup_ignores_warmup_epochs", NB3, "schedules",
          [("schedule(epoch) * min(1.0, epoch / warmup_epochs)", "schedule(epoch) * min(1.0, epoch)")],
          ["test_schedules", "test_linear_warmup_hidden"]),
]

CORRECT_03 = [
    correct("alt_optimizers_03", NB3, {
        "sgd_momentum": edit(NB3, "sgd_momentum", ('    v = config["momentum"] * v - config["learning_rate"] * dw\n    next_w = w + v',
                                                   '    v = v * config["momentum"]\n    v = v - config["learning_rate"] * dw\n    next_w = w.copy()\n    next_w += v')),
        # Nesterov written as w + mu * v_new - lr * dw (algebraically the same)
        "nesterov_momentum": edit(NB3, "nesterov_momentum",
                                  ("    v_prev = v\n    v = mu * v - config[\"learning_rate\"] * dw\n    next_w = w - mu * v_prev + (1 + mu) * v",
                                   "    v = mu * v - config[\"learning_rate\"] * dw\n    next_w = w + mu * v - config[\"learning_rate\"] * dw")),
        # in-place accumulation into the stored cache (a fresh array on the first call)
        "adagrad": edit(NB3, "adagrad", ("    cache = cache + dw ** 2", "    cache = cache.copy()\n    cache += dw * dw")),
        "rmsprop": edit(NB3, "rmsprop", ("    cache = rho * cache + (1 - rho) * dw ** 2", "    cache = cache + (1 - rho) * (dw * dw - cache)")),
        # PyTorch's arrangement: step size lr / (1 - b1^t), denominator sqrt(v) / sqrt(1 - b2^t) + eps
        "adam": edit(NB3, "adam", ("    m_hat = config[\"m\"] / (1 - b1 ** t)\n    v_hat = config[\"v\"] / (1 - b2 ** t)\n"
                                   "    next_w = w - config[\"learning_rate\"] * m_hat / (np.sqrt(v_hat) + config[\"epsilon\"])",
                                   "    step_size = config[\"learning_rate\"] / (1 - b1 ** t)\n"
                                   "    denom = np.sqrt(config[\"v\"]) / np.sqrt(1 - b2 ** t) + config[\"epsilon\"]\n"
                                   "    next_w = w - step_size * config[\"m\"] / denom")),
        # AdamW through adam: decay the weights, then add adam's step
        "adamw": edit(NB3, "adamw", ("    lr, b1, b2 = config[\"learning_rate\"], config[\"beta1\"], config[\"beta2\"]\n"
                                     "    config[\"t\"] += 1\n    t = config[\"t\"]\n"
                                     "    config[\"m\"] = b1 * config[\"m\"] + (1 - b1) * dw\n"
                                     "    config[\"v\"] = b2 * config[\"v\"] + (1 - b2) * dw ** 2\n"
                                     "    m_hat = config[\"m\"] / (1 - b1 ** t)\n    v_hat = config[\"v\"] / (1 - b2 ** t)\n"
                                     "    next_w = w * (1 - lr * config[\"weight_decay\"]) - lr * m_hat / (np.sqrt(v_hat) + config[\"epsilon\"])",
                                     "    decayed = w * (1 - config[\"learning_rate\"] * config[\"weight_decay\"])\n"
                                     "    adam_w, config = adam(w, dw, config)\n    next_w = decayed + (adam_w - w)")),
        "schedules": edit(NB3, "schedules", ("base_lr * gamma ** np.floor(epoch / step_size)", "base_lr * gamma ** int(epoch // step_size)"),
                          ("        progress = min(epoch, total_epochs) / total_epochs\n"
                           "        return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + np.cos(np.pi * progress))",
                           "        import math\n        if epoch >= total_epochs:\n            return min_lr\n"
                           "        return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * epoch / total_epochs)) / 2"),
                          ("schedule(epoch) * min(1.0, epoch / warmup_epochs)",
                           "schedule(epoch) * (epoch / warmup_epochs if epoch < warmup_epochs else 1.0)")),
        "clipping": edit(NB3, "clipping", ("    clipped = np.clip(grad, -clip_value, clip_value)", "    clipped = np.maximum(-clip_value, np.minimum(grad, clip_value))"),
                         ("    total_norm = float(np.sqrt(sum(np.sum(g ** 2) for g in grads.values())))\n"
                          "    scale = min(1.0, max_norm / total_norm) if total_norm > 0 else 1.0\n"
                          "    clipped = {k: g * scale for k, g in grads.items()}",
                          "    total_norm = float(np.linalg.norm(np.concatenate([g.ravel() for g in grads.values()])))\n"
                          "    clipped = {k: g.copy() for k, g in grads.items()}\n"
                          "    if total_norm > max_norm:\n"
                          "        for k in clipped:\n            clipped[k] *= max_norm / total_norm")),
    }),
]

# ---------------------------------------------------------------- 04: dropout, normalisation, network
WRONG_04 = [
    wrong("dropout_without_inverse_scale", NB4, "dropout",
          [("        mask = (rng.random(x.shape) < p) / p", "        mask = (rng.random(x.shape) < p).astype(x.dtype)")],
          ["test_dropout_forward", "test_dropout_train_hidden"]),
    wrong("dropout_p_as_drop_probability", NB4, "dropout",
          [("        mask = (rng.random(x.shape) < p) / p", "        mask = (rng.random(x.shape) >= p) / p")],
          ["test_dropout_forward", "test_dropout_train_hidden"]),
    wrong("dropout_ignores_seed", NB4, "dropout",
          [("        mask = (rng.random(x.shape) < p) / p", "        mask = (np.random.random(x.shape) < p) / p")],
          ["test_dropout_train_hidden", "test_dropout_backward_hidden"]),
    wrong("dropout_scales_at_test_time", NB4, "dropout",
          [("    elif mode == \"test\":\n        out = x", "    elif mode == \"test\":\n        out = x * p")],
          ["test_dropout_forward", "test_dropout_test_mode_hidden"]),
    wrong("dropout_backward_ignores_mask", NB4, "dropout",
          [("        dx = dout * mask", "        dx = dout")],
          ["test_dropout_backward", "test_dropout_backward_hidden"]),
    wrong("batchnorm_variance_ddof1", NB4, "batchnorm",
          [("        var = x.var(axis=0)", "        var = x.var(axis=0, ddof=1)")],
          ["test_batchnorm_train_hidden", "test_batchnorm_running_hidden"]),
    wrong("batchnorm_momentum_swapped", NB4, "batchnorm",
          [("        running_mean = momentum * running_mean + (1 - momentum) * mu\n"
            "        running_var = momentum * running_var + (1 - momentum) * var",
            "        running_mean = (1 - momentum) * running_mean + momentum * mu\n"
            "        running_var = (1 - momentum) * running_var + momentum * var")],
          ["test_batchnorm_running_hidden"]),
    wrong("batchnorm_test_uses_batch_statistics", NB4, "batchnorm",
          [("        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
            "        out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta")],
          ["test_batchnorm_test_mode_hidden"]),
    wrong("batchnorm_backward_treats_statistics_as_constants", NB4, "batchnorm",
          [("    dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))",
            "    dx = dx_hat * inv_std")],
          ["test_batchnorm_backward", "test_batchnorm_backward_hidden"]),
    wrong("layernorm_over_the_batch", NB4, "layernorm",
          [("    mu = x.mean(axis=1, keepdims=True)\n    var = x.var(axis=1, keepdims=True)",
            "    mu = x.mean(axis=0, keepdims=True)\n    var = x.var(axis=0, keepdims=True)")],
          ["test_layernorm", "test_layernorm_forward_hidden"]),
    wrong("layernorm_backward_sums_over_batch", NB4, "layernorm",
          [("    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)\n"
            "                        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True))",
            "    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=0, keepdims=True)\n"
            "                        - x_hat * (dx_hat * x_hat).sum(axis=0, keepdims=True))")],
          ["test_layernorm", "test_layernorm_backward_hidden"]),
    wrong("net_normalises_after_relu", NB4, "fc_net",
          [("            if norm_forward is not None:\n"
            "                h, norm_cache = norm_forward(h, self.params[f\"gamma{l}\"], self.params[f\"beta{l}\"], self.bn_params[l - 1])\n"
            "            h, relu_cache = relu_forward(h)",
            "            h, relu_cache = relu_forward(h)\n"
            "            if norm_forward is not None:\n"
            "                h, norm_cache = norm_forward(h, self.params[f\"gamma{l}\"], self.params[f\"beta{l}\"], self.bn_params[l - 1])"),
           ("            dh = relu_backward(dh, relu_cache)\n"
            "            if norm_backward is not None:\n"
            "                dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = norm_backward(dh, norm_cache)",
            "            if norm_backward is not None:\n"
            "                dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = norm_backward(dh, norm_cache)\n"
            "            dh = relu_backward(dh, relu_cache)")],
          ["test_fc_net_torch_hidden"]),
    wrong("net_regularises_gamma", NB4, "fc_net",
          [("            grads[f\"W{l}\"] += self.reg * W\n",
            "            grads[f\"W{l}\"] += self.reg * W\n"
            "            if f\"gamma{l}\" in self.params:\n"
            "                loss += 0.5 * self.reg * np.sum(self.params[f\"gamma{l}\"] ** 2)\n"
            "                grads[f\"gamma{l}\"] += self.reg * self.params[f\"gamma{l}\"]\n")],
          ["test_fc_net_params_hidden"]),
    wrong("net_fresh_bn_param_each_call", NB4, "fc_net",
          [("self.params[f\"beta{l}\"], self.bn_params[l - 1])", "self.params[f\"beta{l}\"], {\"mode\": mode})")],
          ["test_fc_net_bn_modes_hidden"]),
    wrong("net_skips_dropout_backward", NB4, "fc_net",
          [("            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n", "")],
          ["test_fc_net_options", "test_fc_net_dropout_hidden"]),
    # -- architecture details: where dropout acts (issue 10)
    wrong("net_dropout_on_inputs", NB4, "fc_net",
          [("        for l in range(1, L):\n            h, fc_cache = affine_forward(h,",
            "        for l in range(1, L):\n"
            "            drop_cache = None\n"
            "            if self.use_dropout:\n                h, drop_cache = dropout_forward(h, self.dropout_param)\n"
            "            h, fc_cache = affine_forward(h,"),
           ("            norm_cache = drop_cache = None\n", "            norm_cache = None\n"),
           ("            h, relu_cache = relu_forward(h)\n            if self.use_dropout:\n"
            "                h, drop_cache = dropout_forward(h, self.dropout_param)\n",
            "            h, relu_cache = relu_forward(h)\n"),
           ("            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n"
            "            dh = relu_backward(dh, relu_cache)\n",
            "            dh = relu_backward(dh, relu_cache)\n"),
           ("            dh, grads[f\"W{l}\"], grads[f\"b{l}\"] = affine_backward(dh, fc_cache)\n",
            "            dh, grads[f\"W{l}\"], grads[f\"b{l}\"] = affine_backward(dh, fc_cache)\n"
            "            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n")],
          ["test_fc_net_dropout_hidden"]),
    wrong("net_dropout_on_the_scores_too", NB4, "fc_net",
          [("        scores, last_cache = affine_forward(h, self.params[f\"W{L}\"], self.params[f\"b{L}\"])\n",
            "        scores, last_cache = affine_forward(h, self.params[f\"W{L}\"], self.params[f\"b{L}\"])\n"
            "        score_drop = None\n"
            "        if self.use_dropout:\n            scores, score_drop = dropout_forward(scores, self.dropout_param)\n"),
           ("        loss, dscores = softmax_loss(scores, y)\n",
            "        loss, dscores = softmax_loss(scores, y)\n"
            "        if self.use_dropout:\n            dscores = dropout_backward(dscores, score_drop)\n")],
          ["test_fc_net_dropout_hidden"]),
    wrong("net_dropout_before_normalisation", NB4, "fc_net",
          [("            norm_cache = drop_cache = None\n",
            "            norm_cache = drop_cache = None\n"
            "            if self.use_dropout:\n                h, drop_cache = dropout_forward(h, self.dropout_param)\n"),
           ("            h, relu_cache = relu_forward(h)\n            if self.use_dropout:\n"
            "                h, drop_cache = dropout_forward(h, self.dropout_param)\n",
            "            h, relu_cache = relu_forward(h)\n"),
           ("            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n"
            "            dh = relu_backward(dh, relu_cache)\n"
            "            if norm_backward is not None:\n"
            "                dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = norm_backward(dh, norm_cache)\n",
            "            dh = relu_backward(dh, relu_cache)\n"
            "            if norm_backward is not None:\n"
            "                dh, grads[f\"gamma{l}\"], grads[f\"beta{l}\"] = norm_backward(dh, norm_cache)\n"
            "            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n")],
          ["test_fc_net_dropout_hidden"]),
    wrong("net_dropout_only_after_the_last_hidden_layer", NB4, "fc_net",
          [("            if self.use_dropout:\n                h, drop_cache = dropout_forward(h, self.dropout_param)\n",
            "            if self.use_dropout and l == L - 1:\n                h, drop_cache = dropout_forward(h, self.dropout_param)\n"),
           ("            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n",
            "            if drop_cache is not None:\n                dh = dropout_backward(dh, drop_cache)\n")],
          ["test_fc_net_dropout_hidden"]),
    # -- an argument that silently does nothing: the keep ratio
    wrong("net_ignores_dropout_keep_ratio", NB4, "fc_net",
          [("                h, drop_cache = dropout_forward(h, self.dropout_param)\n",
            "                h, drop_cache = dropout_forward(h, dict(self.dropout_param, p=0.5))\n")],
          ["test_fc_net_dropout_hidden"]),
    wrong("batchnorm_ignores_momentum", NB4, "batchnorm",
          [("        running_mean = momentum * running_mean + (1 - momentum) * mu\n"
            "        running_var = momentum * running_var + (1 - momentum) * var",
            "        running_mean = 0.9 * running_mean + 0.1 * mu\n"
            "        running_var = 0.9 * running_var + 0.1 * var")],
          ["test_batchnorm_running_hidden"]),
    wrong("layernorm_ignores_eps", NB4, "layernorm",
          [("    inv_std = 1.0 / np.sqrt(var + eps)", "    inv_std = 1.0 / np.sqrt(var + 1e-5)")],
          ["test_layernorm_forward_hidden"]),
]

CORRECT_04 = [
    correct("alt_layers_04", NB4, {
        # legacy global seeding for the fixed masks; boolean mask kept, scale applied separately
        "dropout": edit(NB4, "dropout", ("        mask = (rng.random(x.shape) < p) / p\n        out = x * mask",
                                         "        if \"seed\" in dropout_param:\n            np.random.seed(dropout_param[\"seed\"])\n"
                                         "        mask = (np.random.rand(*x.shape) < p) * (1.0 / p)\n        out = x * mask")),
        # batch norm backward through the computational graph, step by step (CS231n's first version)
        "batchnorm": edit(NB4, "batchnorm",
                          ("        cache = (x_hat, inv_std, gamma)", "        cache = (x, mu, var, eps, x_hat, gamma)"),
                          ("    x_hat, inv_std, gamma = cache\n    N = dout.shape[0]\n    dbeta = dout.sum(axis=0)\n"
                           "    dgamma = (dout * x_hat).sum(axis=0)\n    dx_hat = dout * gamma\n"
                           "    dx = inv_std / N * (N * dx_hat - dx_hat.sum(axis=0) - x_hat * (dx_hat * x_hat).sum(axis=0))",
                           "    x, mu, var, eps, x_hat, gamma = cache\n    N = x.shape[0]\n    dbeta = np.sum(dout, axis=0)\n"
                           "    dgamma = np.sum(dout * x_hat, axis=0)\n    dx_hat = dout * gamma\n    xc = x - mu\n"
                           "    std = np.sqrt(var + eps)\n    dstd = -np.sum(dx_hat * xc, axis=0) / std ** 2\n"
                           "    dvar = 0.5 * dstd / std\n    dxc = dx_hat / std + 2.0 * xc * dvar / N\n"
                           "    dmu = -np.sum(dxc, axis=0)\n    dx = dxc + dmu / N")),
        # layer norm as batch norm of the transposed input
        "layernorm": edit(NB4, "layernorm",
                          ("    mu = x.mean(axis=1, keepdims=True)\n    var = x.var(axis=1, keepdims=True)\n"
                           "    inv_std = 1.0 / np.sqrt(var + eps)\n    x_hat = (x - mu) * inv_std\n",
                           "    xt = x.T\n    x_hat = ((xt - xt.mean(axis=0)) / np.sqrt(xt.var(axis=0) + eps)).T\n"
                           "    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)\n"),
                          ("    dx = inv_std / D * (D * dx_hat - dx_hat.sum(axis=1, keepdims=True)\n"
                           "                        - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True))",
                           "    g, xh, s = dx_hat.T, x_hat.T, inv_std.T\n"
                           "    dx = (s / D * (D * g - g.sum(axis=0) - xh * (g * xh).sum(axis=0))).T")),
        # the network with per-layer lists instead of one tuple per layer
        "fc_net": edit(NB4, "fc_net",
                       ("        caches = []\n        h = X\n", "        fc_caches, norm_caches, relu_caches, drop_caches = [], [], [], []\n        h = X\n"),
                       ("            caches.append((fc_cache, norm_cache, relu_cache, drop_cache))\n",
                        "            fc_caches.append(fc_cache); norm_caches.append(norm_cache)\n"
                        "            relu_caches.append(relu_cache); drop_caches.append(drop_cache)\n"),
                       ("            fc_cache, norm_cache, relu_cache, drop_cache = caches[l - 1]\n",
                        "            fc_cache, norm_cache = fc_caches[l - 1], norm_caches[l - 1]\n"
                        "            relu_cache, drop_cache = relu_caches[l - 1], drop_caches[l - 1]\n")),
    }),
]

# ---------------------------------------------------------------- 05: end to end on IMDB
WRONG_05 = [
    # The IMDB runs train their recipes on reference versions of the pasted code (see PASTED_MISTAKES_COST_NOTHING):
    # only a function that was not pasted at all costs their points here
    wrong("imdb_nesterov_momentum_not_pasted", NB5, "pasted_01_04",
          [("def nesterov_momentum(w, dw, config=None):", "def nesterov(w, dw, config=None):")],
          ["test_imdb_batchnorm_nesterov_hidden"]),
    # 05's own functions (issue 11: the missing topics)
    wrong("tfidf_idf_without_the_final_plus_one", NB5, "tfidf",
          [("        idf = np.log((1.0 + N) / (1.0 + df)) + 1.0", "        idf = np.log((1.0 + N) / (1.0 + df))")],
          ["test_tfidf", "test_tfidf_hidden"]),
    wrong("tfidf_scales_X_in_place", NB5, "tfidf",
          [("    values = X.data * idf[X.indices]", "    X.data *= idf[X.indices]\n    values = X.data")],
          ["test_tfidf", "test_tfidf_hidden"]),
    wrong("l1_gradient_proportional_to_W", NB5, "penalties",
          [("    dW = lam * np.sign(W)", "    dW = lam * W")],
          ["test_penalties", "test_penalties_hidden", "test_l1_sparsity_hidden"]),
    wrong("elastic_net_loss_without_the_half", NB5, "penalties",
          [("    loss = l1 * np.abs(W).sum() + 0.5 * l2 * np.sum(W * W)", "    loss = l1 * np.abs(W).sum() + l2 * np.sum(W * W)")],
          ["test_penalties", "test_penalties_hidden"]),
    wrong("ensemble_vote_ties_to_the_lowest_class", NB5, "ensemble_predict",
          [("        return np.argmax(np.where(tied, mean, -np.inf), axis=1)", "        return np.argmax(votes, axis=1)")],
          ["test_ensemble_predict", "test_ensemble_predict_hidden"]),
    wrong("ensemble_mean_over_the_samples", NB5, "ensemble_predict",
          [("    mean = probs.mean(axis=0)\n", "    mean = probs.mean(axis=1)\n")],
          ["test_ensemble_predict", "test_ensemble_predict_hidden", "test_ensemble_imdb_hidden"]),
]
CORRECT_05 = [
    correct("alt_pasted_softmax_loss_scipy", NB5, {"pasted_01_04": edit(NB5, "pasted_01_04", (
        "    shifted = x - x.max(axis=1, keepdims=True)\n"
        "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n",
        "    from scipy.special import log_softmax\n"
        "    log_probs = log_softmax(x, axis=1)\n"))}),
    # tf-idf with sparse operations (X != 0, multiply, a diagonal matrix of inverse norms)
    correct("alt_tfidf_sparse_operations", NB5, {"tfidf": edit(NB5, "tfidf", (
        "    if idf is None:\n"
        "        df = np.bincount(X.indices, minlength=D)\n"
        "        idf = np.log((1.0 + N) / (1.0 + df)) + 1.0\n"
        "    idf = np.asarray(idf, dtype=np.float64)\n"
        "    values = X.data * idf[X.indices]\n"
        "    rows = np.repeat(np.arange(N), np.diff(X.indptr))\n"
        "    norms = np.sqrt(np.bincount(rows, weights=values ** 2, minlength=N))\n"
        "    X_tfidf = scipy.sparse.csr_matrix((values / norms[rows], X.indices.copy(), X.indptr.copy()), shape=(N, D))\n",
        "    if idf is None:\n"
        "        df = np.asarray((X != 0).sum(axis=0)).ravel()\n"
        "        idf = 1.0 + np.log((N + 1.0) / (df + 1.0))\n"
        "    idf = np.asarray(idf, dtype=np.float64)\n"
        "    T = X.multiply(idf[None, :]).tocsr()\n"
        "    norms = np.sqrt(np.asarray(T.multiply(T).sum(axis=1)).ravel())\n"
        "    X_tfidf = (scipy.sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ T).tocsr()\n"))}),
    # sign through two masks; the elastic net through l1_penalty and a dot product
    correct("alt_penalties_masks_and_vdot", NB5, {"penalties": edit(
        NB5, "penalties",
        ("    loss = lam * np.abs(W).sum()\n    dW = lam * np.sign(W)\n",
         "    loss = lam * np.sum(np.abs(W))\n    dW = lam * (W > 0) - lam * (W < 0)\n"),
        ("    loss = l1 * np.abs(W).sum() + 0.5 * l2 * np.sum(W * W)\n    dW = l1 * np.sign(W) + l2 * W\n",
         "    loss, dW = l1_penalty(W, l1)\n    loss = loss + 0.5 * l2 * np.vdot(W, W)\n    dW = dW + l2 * W\n"))}),
    # sums instead of means; one-hot votes, ties broken by adding the mean probability (< 1) to twice the votes
    correct("alt_ensemble_sum_and_one_hot_votes", NB5, {"ensemble_predict": edit(NB5, "ensemble_predict", (
        "    probs = np.stack([np.asarray(p, dtype=np.float64) for p in prob_list])  # (K, N, C)\n"
        "    mean = probs.mean(axis=0)\n"
        "    if method == \"average\":\n"
        "        return np.argmax(mean, axis=1)\n"
        "    if method == \"vote\":\n"
        "        C = probs.shape[2]\n"
        "        votes = (probs.argmax(axis=2)[:, :, None] == np.arange(C)).sum(axis=0)  # (N, C)\n"
        "        tied = votes == votes.max(axis=1, keepdims=True)\n"
        "        return np.argmax(np.where(tied, mean, -np.inf), axis=1)\n",
        "    total = sum(np.asarray(p, dtype=np.float64) for p in prob_list)\n"
        "    if method == \"average\":\n"
        "        return total.argmax(axis=1)\n"
        "    if method == \"vote\":\n"
        "        C = total.shape[1]\n"
        "        votes = sum(np.eye(C, dtype=int)[np.asarray(p).argmax(axis=1)] for p in prob_list)\n"
        "        return np.argmax(2.0 * votes + total / len(prob_list), axis=1)\n"))}),
]


# ---------------------------------------------------------------- issue 11: each mistake costs once
# A mistake in a function pasted from an earlier notebook costs points only in the notebook that grades it:
# the network tests of 02 and 04 and the IMDB runs of 05 run on their hidden tests' reference versions of
# the pasted functions (with_references, autograder/verifier/helpers.py). A submission whose pasted copies
# are wrong keeps every autograded point of the notebook it pasted them into (its visible checks, in the
# student's kernel, still show that the network breaks). With the wrong mutants of 01 and 03 that break the
# same functions, these are the suite's guard of "each mistake costs once"; benchmarks/mistakes_cost_once.py
# grades whole submissions broken in every notebook at once.
PASTED_MISTAKES_COST_NOTHING = [
    correct("pasted_layers_wrong_in_02", NB2, {"layers_from_01": edit(
        NB2, "layers_from_01",
        ("    dw = x.reshape(x.shape[0], -1).T @ dout\n", "    dw = x.reshape(x.shape[0], -1).T @ dout / x.shape[0]\n"),
        ("def relu_forward(x):\n    return np.maximum(0, x), x", "def relu_forward(x):\n    return np.maximum(0.01 * x, x), x"))}),
    correct("pasted_layers_and_init_wrong_in_04", NB4, {"pasted_01_02": edit(
        NB4, "pasted_01_02",
        ("    dw = x.reshape(x.shape[0], -1).T @ dout\n", "    dw = x.reshape(x.shape[0], -1).T @ dout / x.shape[0]\n"),
        ("def relu_forward(x):\n    return np.maximum(0, x), x", "def relu_forward(x):\n    return np.maximum(0.01 * x, x), x"),
        ("np.sqrt(2.0 / fan_in)", "np.sqrt(1.0 / fan_in)"))}),
    correct("pasted_layers_and_adam_wrong_in_05", NB5, {"pasted_01_04": edit(
        NB5, "pasted_01_04",
        ("    dw = x.reshape(x.shape[0], -1).T @ dout\n", "    dw = x.reshape(x.shape[0], -1).T @ dout / x.shape[0]\n"),
        ("def relu_forward(x):\n    return np.maximum(0, x), x", "def relu_forward(x):\n    return np.maximum(0.01 * x, x), x"),
        ("    next_w = w - config[\"learning_rate\"] * m_hat / (np.sqrt(v_hat) + config[\"epsilon\"])",
         "    next_w = w + config[\"learning_rate\"] * m_hat / (np.sqrt(v_hat) + config[\"epsilon\"])"))}),
]

# ---------------------------------------------------------------- issue 10: more correct alternatives
# (each a different but correct way to write a function the new hidden tests check more strictly)
CORRECT_ISSUE10 = [
    # the derivative at 0 through a boolean index and a reversed np.where
    correct("alt_leaky_relu_elu_backward_masks", NB1, {
        "leaky_relu": edit(NB1, "leaky_relu", ("    dx = dout * np.where(x > 0, 1.0, negative_slope)",
                                               "    dx = dout.copy()\n    dx[x <= 0] *= negative_slope")),
        "elu": edit(NB1, "elu", ("    dx = dout * np.where(x > 0, 1.0, out + alpha)", "    dx = dout * np.where(x <= 0, out + alpha, 1.0)")),
    }),
    # rng.normal with zipped layer sizes; the same one generator, in the same order
    correct("alt_network_init_rng_normal_zip", NB2, {"fc_net": edit(NB2, "fc_net", (
        "        dims = [input_dim] + list(hidden_dims) + [num_classes]\n"
        "        for l in range(1, self.num_layers + 1):\n"
        "            fan_in, fan_out = dims[l - 1], dims[l]\n",
        "        sizes = [input_dim, *hidden_dims, num_classes]\n"
        "        for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):\n"), (
        "                W = weight_scale * rng.standard_normal((fan_in, fan_out))",
        "                W = rng.normal(0.0, weight_scale, size=(fan_in, fan_out))"))}),
    # a hand-written training loop with a tqdm progress bar on stderr, prints, stderr lines and a warning:
    # output never costs points
    correct("alt_xor_own_loop_tqdm_prints_warnings", NB2, {"train_xor": (
        "def train_xor(X, y):\n"
        "    \"\"\"Train a one-hidden-layer FullyConnectedNet on XOR data and return it (own loop, progress bar).\"\"\"\n"
        "    import sys\n    import warnings\n    from tqdm.auto import tqdm\n"
        "    warnings.simplefilter(\"always\")\n"
        "    warnings.warn(\"train_xor: training starts (a warning on stderr must not cost points)\")\n"
        "    model = FullyConnectedNet([8], input_dim=2, num_classes=2, init=\"he\", seed=0)\n"
        "    configs = {k: {\"learning_rate\": 0.5} for k in model.params}\n"
        "    rng = np.random.default_rng(0)\n"
        "    for epoch in tqdm(range(200), desc=\"XOR\", file=sys.stderr, disable=False, mininterval=0):\n"
        "        for idx in np.array_split(rng.permutation(len(X)), max(1, len(X) // 50)):\n"
        "            loss, grads = model.loss(X[idx], y[idx])\n"
        "            for k in model.params:\n"
        "                model.params[k], configs[k] = sgd(model.params[k], grads[k], configs[k])\n"
        "        if epoch % 50 == 0:\n"
        "            print(f\"epoch {epoch}: loss {loss:.4f}\")\n"
        "            print(f\"epoch {epoch}: also on stderr\", file=sys.stderr)\n"
        "    return model\n")}),
    # the Solver with its progress bar and verbose prints switched on
    correct("alt_overfit_solver_progress_verbose", NB2, {"overfit": edit(NB2, "overfit", (
        "batch_size=25, num_epochs=30, progress=False)", "batch_size=25, num_epochs=30, progress=True, verbose=True, print_every=5)"))}),
    # global-norm clipping as max_norm / max(norm, max_norm): no special case needed for zero gradients
    correct("alt_clipping_max_form", NB3, {"clipping": edit(NB3, "clipping", (
        "    scale = min(1.0, max_norm / total_norm) if total_norm > 0 else 1.0",
        "    scale = max_norm / max(total_norm, max_norm)"))}),
    # dropout before the ReLU (the same thing: a mask of zeros and 1/p commutes with max(0, .))
    correct("alt_network_dropout_before_relu", NB4, {"fc_net": edit(NB4, "fc_net", (
        "            h, relu_cache = relu_forward(h)\n            if self.use_dropout:\n"
        "                h, drop_cache = dropout_forward(h, self.dropout_param)\n",
        "            if self.use_dropout:\n                h, drop_cache = dropout_forward(h, self.dropout_param)\n"
        "            h, relu_cache = relu_forward(h)\n"), (
        "            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n"
        "            dh = relu_backward(dh, relu_cache)\n",
        "            dh = relu_backward(dh, relu_cache)\n"
        "            if self.use_dropout:\n                dh = dropout_backward(dh, drop_cache)\n"))}),
]



def _split(combined, groups):
    """One correct mutant per group of cells of ``combined`` ({name: [grade_id, ...]})."""
    (m,) = combined
    assert sorted(g for gids in groups.values() for g in gids) == sorted(m.cells), m.name
    return [correct(name, m.notebook, {g: m.cells[g] for g in gids}) for name, gids in groups.items()]


CORRECT_01 = _split(CORRECT_01, {
    "alt_sigmoid_via_tanh_and_tanh_via_sigmoid": ["sigmoid", "tanh"],
    "alt_relu_and_leaky_relu_masks": ["relu", "leaky_relu"],
    "alt_elu_exp_and_gelu_scipy_normal": ["elu", "gelu"],
    "alt_swish_via_sigmoid_forward": ["swish"],
    "alt_affine_tensordot_einsum": ["affine"],
    "alt_softmax_logsumexp_one_hot": ["softmax_loss"],
    "alt_svm_boolean_masks": ["svm_loss"],
})
CORRECT_02 = _split(CORRECT_02, {
    "alt_sgd_copy_then_subtract": ["sgd"],
    "alt_init_rng_normal": ["init"],
    "alt_network_dict_caches": ["fc_net"],
    "alt_xor_wider_xavier": ["train_xor"],
})
CORRECT_03 = _split(CORRECT_03, {
    "alt_momentum_in_place": ["sgd_momentum"],
    "alt_nesterov_mu_v_minus_lr_grad": ["nesterov_momentum"],
    "alt_adagrad_rmsprop_in_place": ["adagrad", "rmsprop"],
    "alt_adam_pytorch_arrangement": ["adam"],
    "alt_adamw_via_adam": ["adamw"],
    "alt_schedules_math_module": ["schedules"],
    "alt_clipping_concatenated_norm": ["clipping"],
})
CORRECT_04 = _split(CORRECT_04, {
    "alt_dropout_legacy_global_seed": ["dropout"],
    "alt_batchnorm_backward_graph": ["batchnorm"],
    "alt_layernorm_by_transposing": ["layernorm"],
    "alt_network_cache_lists": ["fc_net"],
})

# another activation of one's own for 01's extra credit (test_own_activation): Mish, x * tanh(softplus(x)),
# with (x, tanh) as its cache; it must keep the bonus (the wrong ones are at the end of WRONG_01)
CORRECT_EXTRA_CREDIT_01 = [
    correct("own_activation_mish", NB1, {"own_activation": (
        "def my_activation_forward(x):\n"
        "    # Mish (Misra, 2019): x * tanh(softplus(x)), smooth and non-monotonic like Swish.\n"
        "    t = np.tanh(np.logaddexp(0.0, x))\n"
        "    return x * t, (x, t)\n"
        "\n"
        "\n"
        "def my_activation_backward(dout, cache):\n"
        "    x, t = cache\n"
        "    sig = 0.5 * (1.0 + np.tanh(0.5 * x))\n"
        "    return dout * (t + x * (1.0 - t * t) * sig)\n")}),
]

MUTANTS = (WRONG_01 + CORRECT_01 + CORRECT_EXTRA_CREDIT_01 + WRONG_02 + CORRECT_02 + WRONG_03 + CORRECT_03 + WRONG_04
           + CORRECT_04 + WRONG_05
           + CORRECT_05 + CORRECT_ISSUE10 + PASTED_MISTAKES_COST_NOTHING)
