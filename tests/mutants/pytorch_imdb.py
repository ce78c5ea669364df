"""Mutants of the pytorch_imdb reference solution (see autograder/mutation.py).

"wrong" mutants are realistic student bugs that must lose points (in the test cells named in
``must_fail``); "correct" mutants are valid alternative solutions that must earn full marks.

Cost: every mutant is one full nbgrader run of its notebook, and a full run of the IMDB notebooks
takes minutes. A wrong mutant whose ``must_fail`` cells do not depend on the IMDB pipeline
therefore also replaces the heavy solution cells that nothing it checks needs (vectorising, training)
by ``SKIPPED``, a one-line cell that raises: the rest of the notebook then fails in seconds, which
changes nothing for the cells in ``must_fail`` (they run on the grader's own synthetic data). Correct
alternatives always run in full. Mutants marked ``slow=True`` run full IMDB training only to kill
one extra bug; ``python -m autograder mutants pytorch_imdb --slow`` grades them too. Independent
mistakes of one notebook are graded in one run (``autograder.mutation.batches``).

Each exercise is graded by a visible test cell and a hidden one (``<grade_id>_hidden``): ``must_fail`` names
the hidden cell, and the visible one too where its check catches the mistake in every run.
"""

from autograder.mutation import SKIPPED, correct as _correct, replace, wrong as _wrong

A = "pytorch_imdb"
NB1 = "01_pytorch_basics.ipynb"
NB2 = "02_imdb_count_vectors.ipynb"
NB3 = "03_imdb_classifier.ipynb"


def edit(notebook, grade_id, old, new, count=1):
    """A textual edit of one reference cell (``old`` must occur ``count`` times)."""
    return replace(old, new, count)


# Heavy cells skipped by fast wrong mutants.
SKIP_02 = {"fit_vocabulary": SKIPPED}                      # vocabulary, then every IMDB cell fails fast
SKIP_03 = {"features": SKIPPED, "train_model": SKIPPED, "baseline": SKIPPED}
SKIP_03_TRAINING = {"train_model": SKIPPED, "baseline": SKIPPED}


def wrong(name, notebook, cells, must_fail, skip=None, slow=False):
    merged = dict(skip or {})
    merged.update(cells)
    return _wrong(name, notebook, merged, must_fail, slow=slow)


def correct(name, notebook, cells):
    return _correct(name, notebook, cells)


# ----------------------------------------------------------------------- 01 PyTorch basics

NB1_WRONG = [
    wrong("pairwise_abs_not_squared", NB1,
          {"pairwise_sq_dists": edit(NB1, "pairwise_sq_dists", "(diff * diff).sum(dim=-1)", "diff.abs().sum(dim=-1)")},
          ["test_pairwise_sq_dists", "test_pairwise_sq_dists_hidden"]),
    wrong("softmax_without_max_shift", NB1,
          {"softmax": edit(NB1, "softmax", "torch.exp(z - z.max(dim=dim, keepdim=True).values)", "torch.exp(z)")},
          ["test_softmax", "test_softmax_hidden"]),
    wrong("logistic_grad_sum_not_mean", NB1,
          {"logistic_loss": edit(NB1, "logistic_loss", "dz = (torch.sigmoid(X @ w + b) - y) / X.shape[0]",
                                 "dz = torch.sigmoid(X @ w + b) - y")},
          ["test_logistic_grad", "test_logistic_grad_hidden"]),
    wrong("affine_backward_db_mean", NB1,
          {"affine_function": edit(NB1, "affine_function", "dout.sum(dim=0)", "dout.mean(dim=0)")},
          ["test_affine_backward", "test_affine_backward_hidden"]),
    wrong("affine_backward_dw_transposed", NB1,
          {"affine_function": edit(NB1, "affine_function", "x.T @ dout", "dout.T @ x")},
          ["test_affine_backward", "test_affine_backward_hidden"]),
    # "no dropout scaling": a hand-rolled dropout that drops but does not scale by 1/(1-p), so the
    # network sees larger activations at eval time than in training.
    wrong("dropout_without_scaling", NB1,
          {"dropout": edit(NB1, "dropout", "return x * mask / (1.0 - self.p)", "return x * mask")},
          ["test_dropout_train", "test_dropout_train_hidden"]),
    wrong("dropout_active_in_eval", NB1,
          {"dropout": edit(NB1, "dropout", "if not self.training or self.p == 0:", "if self.p == 0:")},
          ["test_dropout_eval", "test_dropout_eval_hidden"]),
    wrong("sgd_momentum_dampened", NB1,
          {"sgd_momentum": edit(NB1, "sgd_momentum", 'state["velocity"].mul_(group["momentum"]).add_(p.grad)',
                                'state["velocity"].mul_(group["momentum"]).add_(p.grad, alpha=1 - group["momentum"])')},
          ["test_sgd_momentum", "test_sgd_momentum_hidden"]),
    wrong("train_epoch_without_zero_grad", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "        optimizer.zero_grad()\n", "")},
          ["test_train_epoch", "test_train_epoch_hidden"]),
    wrong("train_epoch_without_train_mode", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    model.train()\n", "")},
          ["test_train_epoch", "test_train_epoch_hidden"]),
    wrong("evaluate_in_train_mode", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    model.eval()\n", "")},
          ["test_evaluate", "test_evaluate_hidden"]),
    # the visible test_affine_layer misses it when the 6 weights of AffineLayer(3, 2) all fall within +-1/sqrt(3)
    # (about 0.7% of runs): only the hidden cell must lose points
    wrong("affine_layer_unscaled_init", NB1,
          {"affine_layer": edit(NB1, "affine_layer", "torch.empty(in_features, out_features).uniform_(-bound, bound)",
                                "torch.randn(in_features, out_features)")},
          ["test_affine_layer_hidden"]),
    wrong("two_layer_net_without_dropout", NB1,
          {"two_layer_net": edit(NB1, "two_layer_net", "self.drop = Dropout(p_drop)", "self.drop = nn.Identity()")},
          ["test_two_layer_net", "test_two_layer_net_hidden"]),
    wrong("array_dataset_float_labels", NB1,
          {"array_dataset": edit(NB1, "array_dataset", "dtype=torch.int64", "dtype=torch.float32")},
          ["test_array_dataset", "test_array_dataset_hidden"]),
    wrong("spirals_two_epochs", NB1,
          {"train_spirals": edit(NB1, "train_spirals", "range(100)", "range(2)")},
          ["test_spiral_accuracy", "test_spiral_accuracy_hidden"]),
]

NB1_CORRECT = correct("basics_alternatives", NB1, {
    # the expansion |a|^2 + |b|^2 - 2 a.b instead of broadcasting the differences
    "pairwise_sq_dists": '''
def pairwise_sq_dists(A, B):
    sq = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T
    return sq.clamp_min(0)
''',
    "softmax": '''
def softmax(z, dim=-1):
    return torch.exp(z - torch.logsumexp(z, dim=dim, keepdim=True))
''',
    "logistic_loss": '''
def logistic_loss(w, b, X, y):
    return F.binary_cross_entropy_with_logits(X @ w + b, y)


def logistic_grad(w, b, X, y):
    p = 1 / (1 + torch.exp(-(X @ w + b)))
    return X.T @ (p - y) / len(y), (p - y).mean()
''',
    # CS231n's form of momentum (v = mu v - lr g; p += v) follows the same path for a constant lr
    "sgd_momentum": '''
class SGDMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    v = self.state[p].get("v", torch.zeros_like(p))
                    v = group["momentum"] * v - group["lr"] * p.grad
                    self.state[p]["v"] = v
                    p += v
''',
    "dropout": '''
class Dropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training and self.p > 0:
            keep = 1.0 - self.p
            if keep == 0:
                return x * 0
            return x * torch.bernoulli(torch.full_like(x, keep)) / keep
        return x
''',
    "two_layer_net": '''
class TwoLayerNet(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim, p_drop=0.0):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), Dropout(p_drop),
                                    nn.Linear(hidden_dim, out_dim))

    def forward(self, x):
        return self.layers(x)
''',
    "array_dataset": '''
class ArrayDataset(torch.utils.data.Dataset):
    def __init__(self, X, y):
        self.X = torch.tensor(X, dtype=torch.float32)
        self.y = torch.tensor(y).long()

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.X[i], self.y[i]
''',
    # zero_grad after the step (gradients start at None), a criterion object, running sums as tensors
    "train_epoch": '''
criterion = nn.CrossEntropyLoss()


def train_epoch(model, loader, optimizer, device):
    model.train()
    losses, sizes = [], []
    for xb, yb in loader:
        xb, yb = xb.to(device), yb.to(device)
        loss = criterion(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=False)
        losses.append(loss.detach() * len(yb))
        sizes.append(len(yb))
    return float(torch.stack(losses).sum() / sum(sizes))


@torch.no_grad()
def evaluate(model, loader, device):
    model.eval()
    logits, labels = [], []
    for xb, yb in loader:
        logits.append(model(xb.to(device)))
        labels.append(yb.to(device))
    logits, labels = torch.cat(logits), torch.cat(labels)
    return float(criterion(logits, labels)), float((logits.argmax(1) == labels).float().mean())
''',
    "train_spirals": '''
nnkit.seed_everything(1)
spiral_net = TwoLayerNet(2, 64, 3).to(device)
optimizer = torch.optim.Adam(spiral_net.parameters(), lr=0.01)
spiral_loader = torch.utils.data.DataLoader(ArrayDataset(X_spiral, y_spiral), batch_size=50, shuffle=True)
loss_history = [train_epoch(spiral_net, spiral_loader, optimizer, device) for _ in range(150)]
''',
})

# ----------------------------------------------------------------------- 02 count vectors

NB2_WRONG = [
    # the classic leak: the vocabulary is counted on train and test reviews together
    wrong("vectoriser_vocabulary_from_train_and_test", NB2,
          {"fit_vocabulary": edit(NB2, "fit_vocabulary", 'progress_bar(train.texts, desc="analyze train")',
                                  'progress_bar(train.texts + test.texts, desc="analyze train")')},
          ["test_vocabulary_train_only_hidden"]),
    wrong("tokenize_keeps_br_tags", NB2,
          {"tokenize": edit(NB2, "tokenize", 'text.replace("<br />", " ").lower()', "text.lower()")},
          ["test_tokenize", "test_tokenize_hidden"], skip=SKIP_02),
    # a vocabulary of the least frequent features: caught by the grader's counts of the training reviews
    wrong("vocabulary_least_frequent", NB2,
          {"fit_vocabulary": [replace("vocabulary = build_vocabulary(", "_all = build_vocabulary("),
                              replace(", MAX_FEATURES)", ")\nvocabulary = {f: j for j, f in enumerate(list(_all)[-MAX_FEATURES:])}")]},
          ["test_vocabulary_train_only", "test_vocabulary_train_only_hidden"]),
    wrong("ngrams_without_unigrams", NB2,
          {"tokenize": edit(NB2, "tokenize", "    features = list(tokens)\n", "    features = []\n")},
          ["test_ngrams", "test_ngrams_hidden"], skip=SKIP_02),
    wrong("vocabulary_columns_from_one", NB2,
          {"build_vocabulary": edit(NB2, "build_vocabulary", "enumerate(counts.most_common(max_features))",
                                    "enumerate(counts.most_common(max_features), start=1)")},
          ["test_build_vocabulary", "test_build_vocabulary_hidden"], skip=SKIP_02),
    wrong("vectorize_keeps_duplicate_entries", NB2,
          {"vectorize": edit(NB2, "vectorize", "    X.sum_duplicates()\n", "")},
          ["test_vectorize_hidden"], skip=SKIP_02),
    wrong("log_counts_modifies_input", NB2,
          {"variants": edit(NB2, "variants", "    out = X.copy()\n    out.data = np.log1p(out.data)",
                            "    out = X\n    out.data = np.log1p(out.data)")},
          ["test_log_binary", "test_log_binary_hidden"], skip=SKIP_02),
    wrong("log_count_ratio_unnormalized", NB2,
          {"variants": edit(NB2, "variants", "return np.log(p / p.sum()) - np.log(q / q.sum())", "return np.log(p) - np.log(q)")},
          ["test_log_count_ratio_hidden"], skip=SKIP_02),
]

NB2_CORRECT = correct("count_vector_alternatives", NB2, {
    "tokenize": '''
def tokenize(text):
    return re.findall(r"[a-z0-9']+", re.sub(r"<br\\s*/>", " ", text).lower())


def ngrams(tokens, n_max=2):
    out = list(tokens)
    for n in range(2, n_max + 1):
        out.extend(map(" ".join, zip(*(tokens[k:] for k in range(n)))))
    return out
''',
    # columns in alphabetical order instead of by frequency
    "build_vocabulary": '''
def build_vocabulary(docs, max_features=None):
    counts = collections.Counter()
    for doc in docs:
        counts.update(doc)
    kept = sorted(counts, key=counts.__getitem__, reverse=True)[:max_features]
    return {f: j for j, f in enumerate(sorted(kept))}
''',
    # COO triplets; tocsr() sums the duplicates
    "vectorize": '''
def vectorize(docs, vocabulary):
    rows, cols = [], []
    for i, doc in enumerate(docs):
        ids = [vocabulary[f] for f in doc if f in vocabulary]
        cols.extend(ids)
        rows.extend([i] * len(ids))
    coo = sp.coo_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=(len(docs), len(vocabulary)))
    return coo.tocsr()
''',
    "variants": '''
def log_counts(X):
    return X.log1p()


def binarize(X):
    return (X > 0).astype(np.float32)


def log_count_ratio(X, y, alpha=1.0):
    y = np.asarray(y)
    p = alpha + np.asarray(X.T @ (y == 1).astype(float)).ravel()
    q = alpha + np.asarray(X.T @ (y == 0).astype(float)).ravel()
    return np.log(p) - np.log(p.sum()) - np.log(q) + np.log(q.sum())
''',
})

# ----------------------------------------------------------------------- 03 classifier

NB3_WRONG = [
    # CountVectorizer-style leak: fit on train + test
    wrong("classifier_vocabulary_from_train_and_test", NB3,
          {"features": edit(NB3, "features", "B_train = binarize(vectorizer.fit_transform(train.texts))",
                            "vectorizer.fit(train.texts + test.texts)\nB_train = binarize(vectorizer.transform(train.texts))")},
          ["test_vocabulary_train_only_hidden"], skip=SKIP_03_TRAINING),
    wrong("train_steps_without_zero_grad", NB3,
          {"train_steps": edit(NB3, "train_steps", "        optimizer.zero_grad()\n", "")},
          ["test_train_steps", "test_train_steps_hidden"], skip=SKIP_03),
    wrong("train_steps_without_train_mode", NB3,
          {"train_steps": edit(NB3, "train_steps", "    model.train()\n", "")},
          ["test_train_steps", "test_train_steps_hidden"], skip=SKIP_03),
    # evaluation with dropout still on
    wrong("predict_in_train_mode", NB3,
          {"train_steps": edit(NB3, "train_steps", "    model.eval()\n", "")},
          ["test_predict_logits", "test_predict_logits_hidden"], skip=SKIP_03),
    wrong("mlp_without_nonlinearity", NB3,
          {"mlp": edit(NB3, "mlp", "self.fc2(self.drop(F.relu(self.fc1(x))))", "self.fc2(self.drop(self.fc1(x)))")},
          ["test_mlp_hidden"], skip=SKIP_03),
    # the visible test_fit catches it in about 86% of runs only (random labels: the last evaluation is sometimes the
    # best one), so only the hidden cell must lose points
    wrong("fit_keeps_last_weights", NB3,
          {"fit": edit(NB3, "fit", "    model.load_state_dict(best_state)\n", "")},
          ["test_fit_hidden"], skip=SKIP_03),
    # checks the budget after a trial instead of before: a budget of 0 s still runs one trial
    wrong("random_search_checks_budget_late", NB3,
          {"random_search": edit(NB3, "random_search",
                                 "    while time.perf_counter() - start < budget_s and (max_trials is None or len(results) < max_trials):\n"
                                 "        config = sample_config(rng)\n"
                                 "        results.append((config, evaluate(config)))\n",
                                 "    while True:\n"
                                 "        config = sample_config(rng)\n"
                                 "        results.append((config, evaluate(config)))\n"
                                 "        if time.perf_counter() - start >= budget_s or len(results) == max_trials:\n"
                                 "            break\n")},
          ["test_random_search_hidden"], skip=SKIP_03),
    # a second network instead of logistic regression (test_baseline builds the test features itself
    # when `model` is missing, so the network's training can be skipped)
    wrong("baseline_with_hidden_layer", NB3,
          {"baseline": edit(NB3, "baseline", "baseline = SparseLinear(X_train.shape[1], 2).to(device)",
                            "baseline = MLP(X_train.shape[1]).to(device)")},
          ["test_baseline", "test_baseline_hidden"], skip={"train_model": SKIPPED}, slow=True),
    # test reviews in the training rows: the grader's accuracy exceeds what unseen reviews allow
    wrong("trained_on_test_reviews", NB3,
          {"train_model": edit(NB3, "train_model",
                               "history = fit(model, X_train, y_train, train_idx, val_idx,",
                               "history = fit(model, sp.vstack([X_train, featurize(test.texts)]).tocsr(), np.concatenate([y_train, y_test]),\n"
                               "              np.concatenate([train_idx, np.arange(len(y_train), len(y_train) + len(y_test))]), val_idx,"),
           "baseline": SKIPPED},
          ["test_accuracy_80", "test_accuracy_80_hidden", "test_accuracy_85", "test_accuracy_85_hidden", "test_accuracy_88", "test_accuracy_88_hidden"], slow=True),
]

NB3_CORRECT = correct("classifier_alternatives", NB3, {
    # the scaling as a product with a diagonal matrix, r from matrix products, featurize applied to train.texts
    "features": '''
def binarize(X):
    return (X > 0).astype(np.float32)


def log_count_ratio(X, y, alpha=1.0):
    y = np.asarray(y)
    p = alpha + np.asarray(X.T @ (y == 1).astype(float)).ravel()
    q = alpha + np.asarray(X.T @ (y == 0).astype(float)).ravel()
    return np.log(p) - np.log(p.sum()) - np.log(q) + np.log(q.sum())


vectorizer = NgramVectorizer(ngram_range=(1, 3), max_features=MAX_FEATURES, punctuation=True).fit(train.texts)
analyze = vectorizer.analyze
vocabulary = vectorizer.vocabulary_
r = log_count_ratio(binarize(vectorizer.transform([train.texts[i] for i in train_idx])), y_train[train_idx])
R = sp.diags(r.astype(np.float32))


def featurize(texts):
    return (binarize(vectorizer.transform(texts)) @ R).astype(np.float32).tocsr()


X_train = featurize(train.texts)
''',
    # nn.Sequential with a wider hidden layer
    "mlp": '''
class MLP(nn.Module):
    def __init__(self, n_features, hidden=32, p_drop=0.5):
        super().__init__()
        self.net = nn.Sequential(SparseLinear(n_features, hidden), nn.ReLU(), nn.Dropout(p_drop), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)
''',
    "train_model": '''
nnkit.seed_everything(1)
model = MLP(X_train.shape[1], hidden=64, p_drop=0.6).to(device)
history = fit(model, X_train, y_train, train_idx, val_idx, lr=1e-3, weight_decay=0.01, batch_size=128,
              max_epochs=3, evals_per_epoch=2, patience=1, seed=3, device=device)
''',
    "baseline": '''
baseline = nn.Sequential(SparseLinear(X_train.shape[1], 2)).to(device)
baseline_history = fit(baseline, X_train, y_train, train_idx, val_idx, lr=2e-3, batch_size=256,
                       max_epochs=2, evals_per_epoch=2, patience=1, device=device)
''',
})

# Output never costs points: progress bars (tqdm on stderr), prints and warnings inside the graded
# training functions (the verdict comes from the grader's side, not from the cell's stderr).
_TQDM = "import sys\nimport warnings\n\nfrom tqdm.auto import tqdm\n\n\n"
NB1_PROGRESS = correct("train_epoch_with_progress_bar", NB1, {
    "train_epoch": [replace("def train_epoch(", _TQDM + "def train_epoch("),
                    replace("for xb, yb in loader:", "for xb, yb in tqdm(loader, desc='epoch', file=sys.stderr):", count=2)],
})
NB3_PROGRESS = correct("train_steps_with_progress_bar", NB3, {
    "train_steps": [replace("def train_steps(", _TQDM + "def train_steps("),
                    replace("    for xb, yb in batches:\n",
                            "    print('training...', file=sys.stderr)\n"
                            "    warnings.warn('a warning a student left in')\n"
                            "    for xb, yb in tqdm(batches, desc='steps', file=sys.stderr, leave=False):\n")],
})

# Issue 10's kinds of mistakes, for 01 (each killed by a hidden test written against the notebook's text).
# The device mistakes are caught without a GPU: the hidden tests also run the code on PyTorch's meta device
# (tensors with a shape and no data; an operation that mixes them with CPU tensors raises, .numpy() raises,
# and what a function returns must still be on meta), and on the GPU when the grading machine has one.
NB1_ISSUE10 = [
    # an argument that silently does nothing
    wrong("two_layer_net_ignores_p_drop", NB1,
          {"two_layer_net": edit(NB1, "two_layer_net", "self.drop = Dropout(p_drop)", "self.drop = Dropout(0.5)")},
          ["test_two_layer_net", "test_two_layer_net_hidden"]),
    wrong("two_layer_net_ignores_hidden_dim", NB1,
          {"two_layer_net": [replace("nn.Linear(in_dim, hidden_dim)", "nn.Linear(in_dim, 100)"),
                             replace("nn.Linear(hidden_dim, out_dim)", "nn.Linear(100, out_dim)")]},
          ["test_two_layer_net", "test_two_layer_net_hidden"]),
    wrong("sgd_momentum_ignores_group_lr", NB1,
          {"sgd_momentum": edit(NB1, "sgd_momentum", 'alpha=-group["lr"]', 'alpha=-self.defaults["lr"]')},
          ["test_sgd_momentum", "test_sgd_momentum_hidden"]),
    # per-layer re-seeding where one generator serves every draw
    wrong("affine_layer_reseeds", NB1,
          {"affine_layer": edit(NB1, "affine_layer", "        super().__init__()\n", "        super().__init__()\n        torch.manual_seed(0)\n")},
          ["test_affine_layer_hidden"]),
    wrong("affine_layer_generator_of_its_own", NB1,
          {"affine_layer": [replace("        bound = 1.0 / in_features ** 0.5\n",
                                    "        bound = 1.0 / in_features ** 0.5\n        gen = torch.Generator().manual_seed(42)\n"),
                            replace(".uniform_(-bound, bound)", ".uniform_(-bound, bound, generator=gen)", count=2)]},
          ["test_affine_layer_hidden"]),
    wrong("affine_layer_numpy_init", NB1,
          {"affine_layer": edit(NB1, "affine_layer", "nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))",
                                "nn.Parameter(torch.from_numpy(np.random.uniform(-bound, bound, (in_features, out_features))).float())")},
          ["test_affine_layer_hidden"]),
    # architecture
    wrong("affine_layer_init_not_centred", NB1,
          {"affine_layer": edit(NB1, "affine_layer", ".uniform_(-bound, bound)", ".uniform_(0, bound)", count=2)},
          ["test_affine_layer_hidden"]),
    wrong("affine_layer_init_rand_scaled", NB1,
          {"affine_layer": edit(NB1, "affine_layer", "torch.empty(in_features, out_features).uniform_(-bound, bound)",
                                "torch.rand(in_features, out_features) * bound")},
          ["test_affine_layer_hidden"]),
    wrong("two_layer_net_dropout_on_inputs", NB1,
          {"two_layer_net": edit(NB1, "two_layer_net", "self.fc2(self.drop(F.relu(self.fc1(x))))", "self.fc2(F.relu(self.fc1(self.drop(x))))")},
          ["test_two_layer_net_hidden"]),
    wrong("two_layer_net_softmax_output", NB1,
          {"two_layer_net": edit(NB1, "two_layer_net", "return self.fc2(self.drop(F.relu(self.fc1(x))))",
                                 "return F.softmax(self.fc2(self.drop(F.relu(self.fc1(x)))), dim=1)")},
          ["test_two_layer_net", "test_two_layer_net_hidden"]),
    # evaluation hygiene: gradients recorded while evaluating
    wrong("evaluate_without_no_grad", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    with torch.no_grad():\n", "    if True:  # no torch.no_grad()\n")},
          ["test_evaluate", "test_evaluate_hidden"]),
    wrong("evaluate_no_grad_not_entered", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    with torch.no_grad():\n", "    torch.no_grad()\n    if True:\n")},
          ["test_evaluate", "test_evaluate_hidden"]),
    # devices: masks and new tensors made on the CPU
    wrong("dropout_mask_on_cpu", NB1,
          {"dropout": edit(NB1, "dropout", "torch.rand_like(x) >= self.p", "torch.rand(x.shape) >= self.p")},
          ["test_dropout_train_hidden"]),
    wrong("dropout_mask_from_numpy", NB1,
          {"dropout": edit(NB1, "dropout", "mask = (torch.rand_like(x) >= self.p).to(x.dtype)",
                           "mask = torch.from_numpy(np.random.rand(*x.shape) >= self.p).to(x.dtype)")},
          ["test_dropout_train_hidden"]),
    wrong("dropout_zeros_on_cpu", NB1,
          {"dropout": edit(NB1, "dropout", "return torch.zeros_like(x)", "return torch.zeros(x.shape, dtype=x.dtype)")},
          ["test_dropout_train_hidden"]),
    wrong("sgd_momentum_velocity_on_cpu", NB1,
          {"sgd_momentum": edit(NB1, "sgd_momentum", 'state["velocity"] = p.grad.clone()',
                                'state["velocity"] = torch.zeros(p.shape, dtype=p.dtype)\n                    state["velocity"].add_(p.grad)')},
          ["test_sgd_momentum_hidden"]),
    # devices: batches not moved to the device
    wrong("train_epoch_batches_not_moved", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    for xb, yb in loader:\n        xb, yb = xb.to(device), yb.to(device)\n",
                               "    for xb, yb in loader:\n")},
          ["test_train_epoch_hidden"]),
    wrong("train_epoch_labels_not_moved", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    for xb, yb in loader:\n        xb, yb = xb.to(device), yb.to(device)\n",
                               "    for xb, yb in loader:\n        xb = xb.to(device)\n")},
          ["test_train_epoch_hidden"]),
    wrong("evaluate_labels_not_moved", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "            xb, yb = xb.to(device), yb.to(device)\n", "            xb = xb.to(device)\n")},
          ["test_evaluate_hidden"]),
    # devices: helpers that round-trip through numpy
    wrong("pairwise_through_numpy", NB1,
          {"pairwise_sq_dists": edit(NB1, "pairwise_sq_dists",
                                     "    diff = A[:, None, :] - B[None, :, :]   # (n, 1, d) - (1, m, d) -> (n, m, d)\n    return (diff * diff).sum(dim=-1)",
                                     "    a, b = A.numpy(), B.numpy()\n    return torch.from_numpy(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))")},
          ["test_pairwise_sq_dists_hidden"]),
    wrong("softmax_through_numpy", NB1,
          {"softmax": edit(NB1, "softmax", "e = torch.exp(z - z.max(dim=dim, keepdim=True).values)",
                           "e = torch.from_numpy(np.exp((z - z.max(dim=dim, keepdim=True).values).numpy()))")},
          ["test_softmax_hidden"]),
    wrong("logistic_grad_through_numpy", NB1,
          {"logistic_loss": edit(NB1, "logistic_loss", "dz = (torch.sigmoid(X @ w + b) - y) / X.shape[0]",
                                 "dz = torch.from_numpy((1 / (1 + np.exp(-(X @ w + b).numpy())) - y.numpy()) / X.shape[0])")},
          ["test_logistic_grad_hidden"]),
    wrong("affine_backward_through_numpy", NB1,
          {"affine_function": edit(NB1, "affine_function", "return dout @ w.T, x.T @ dout, dout.sum(dim=0)",
                                   "d, xn, wn = dout.numpy(), x.detach().numpy(), w.detach().numpy()\n"
                                   "        return torch.from_numpy(d @ wn.T), torch.from_numpy(xn.T @ d), torch.from_numpy(d.sum(0))")},
          ["test_affine_backward_hidden"]),
]

NB1_ISSUE10_CORRECT = [
    correct("basics_alternatives_2", NB1, {
        # backward with torch.mm and saved attributes of ctx; the layer initialised with nn.init
        "affine_function": '''
class Affine(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        return torch.addmm(b, x, w)

    @staticmethod
    def backward(ctx, dout):
        x, w = ctx.saved_tensors
        return torch.mm(dout, w.t()), torch.mm(x.t(), dout), dout.sum(0)
''',
        "affine_layer": '''
import math


class AffineLayer(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        b = 1 / math.sqrt(in_features)
        nn.init.uniform_(self.weight, -b, b)
        nn.init.uniform_(self.bias, -b, b)

    def forward(self, x):
        return Affine.apply(x, self.weight, self.bias)
''',
        # the mask from bernoulli_ on an empty tensor like x, p = 1 as a mask of zeros
        "dropout": '''
class Dropout(nn.Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p)
        return x * keep / max(1.0 - self.p, 1e-12)
''',
        # dropout before the ReLU: the same function (the mask and the scale are nonnegative)
        "two_layer_net": '''
class TwoLayerNet(nn.Module):
    def __init__(self, in_dim, hidden_dim, out_dim, p_drop=0.0):
        super().__init__()
        self.hidden = nn.Linear(in_dim, hidden_dim)
        self.dropout = Dropout(p_drop)
        self.out = nn.Linear(hidden_dim, out_dim)

    def forward(self, x):
        return self.out(torch.relu(self.dropout(self.hidden(x))))
''',
        # velocity as torch.zeros_like(p) from the start
        "sgd_momentum": '''
class SGDMomentum(torch.optim.Optimizer):
    def __init__(self, params, lr, momentum=0.9):
        super().__init__(params, {"lr": lr, "momentum": momentum})

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, mu = group["lr"], group["momentum"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                first = "v" not in st
                v = st.setdefault("v", torch.zeros_like(p))
                if first:
                    v.copy_(p.grad)
                else:
                    v.mul_(mu).add_(p.grad)
                p.sub_(lr * v)
''',
    }),
    # evaluation under torch.inference_mode(), batches moved with non_blocking, a decorated train_epoch
    correct("train_loop_inference_mode", NB1, {"train_epoch": '''
def train_epoch(model, loader, optimizer, device):
    model.train(True)
    total = torch.zeros((), dtype=torch.float64)
    count = 0
    for xb, yb in loader:
        xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.detach().double().cpu() * yb.shape[0]
        count += yb.shape[0]
    return total.item() / count


def evaluate(model, loader, device):
    model.eval()
    losses, hits, count = [], 0, 0
    with torch.inference_mode():
        for xb, yb in loader:
            logits = model(xb.to(device))
            yb = yb.to(device)
            losses.append(F.cross_entropy(logits, yb, reduction="sum"))
            hits += int((logits.argmax(1) == yb).sum())
            count += len(yb)
    return float(torch.stack(losses).sum()) / count, hits / count
'''}),
]

# Issue 10's kinds of mistakes, for 03 (see NB1_ISSUE10 for how the device mistakes are caught on a CPU).
NB3_ISSUE10 = [
    # an argument that silently does nothing (test_fit judges fit on an instrumented model and scripted
    # validation losses: lr=0 keeps the weights, a weight decay changes them, patience counts from each new
    # lowest loss, every epoch is a new order of the training rows drawn from seed + epoch)
    wrong("fit_ignores_lr", NB3,
          {"fit": edit(NB3, "fit", "adamw(model.parameters(), lr=lr, weight_decay=weight_decay)", "adamw(model.parameters(), weight_decay=weight_decay)")},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("fit_ignores_weight_decay", NB3,
          {"fit": edit(NB3, "fit", "adamw(model.parameters(), lr=lr, weight_decay=weight_decay)", "adamw(model.parameters(), lr=lr)")},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("fit_patience_counter_not_reset", NB3,
          {"fit": edit(NB3, "fit", "best_loss, best_state, bad = val_loss, copy.deepcopy(model.state_dict()), 0",
                       "best_loss, best_state = val_loss, copy.deepcopy(model.state_dict())")},
          ["test_fit_hidden"], skip=SKIP_03),
    # the visible test_fit (patience 8) catches it in most runs, not in all: only the hidden cell must lose points
    wrong("fit_ignores_patience", NB3,
          {"fit": edit(NB3, "fit", "if bad >= patience:", "if bad >= 2:", count=2)},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("fit_same_order_every_epoch", NB3,
          {"fit": edit(NB3, "fit", "shuffle=True, seed=seed + epoch)", "shuffle=True, seed=seed)")},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("fit_ignores_seed", NB3,
          {"fit": edit(NB3, "fit", "shuffle=True, seed=seed + epoch)", "shuffle=True, seed=epoch)")},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("fit_ignores_batch_size", NB3,
          {"fit": edit(NB3, "fit", "iterate_minibatches(train_idx, y[train_idx], batch_size,", "iterate_minibatches(train_idx, y[train_idx], 128,")},
          ["test_fit_hidden"], skip=SKIP_03),
    wrong("mlp_ignores_hidden", NB3,
          {"mlp": [replace("SparseLinear(n_features, hidden)", "SparseLinear(n_features, 32)"),
                   replace("nn.Linear(hidden, 2)", "nn.Linear(32, 2)")]},
          ["test_mlp_hidden"], skip=SKIP_03),
    wrong("mlp_dropout_keep_probability", NB3,
          {"mlp": edit(NB3, "mlp", "nn.Dropout(p_drop)", "nn.Dropout(1 - p_drop)")},
          ["test_mlp_hidden"], skip=SKIP_03),
    wrong("mlp_reseeds", NB3,
          {"mlp": edit(NB3, "mlp", "        super().__init__()\n", "        super().__init__()\n        torch.manual_seed(0)\n")},
          ["test_mlp_hidden"], skip=SKIP_03),
    # architecture
    wrong("mlp_softmax_output", NB3,
          {"mlp": edit(NB3, "mlp", "return self.fc2(self.drop(F.relu(self.fc1(x))))", "return F.softmax(self.fc2(self.drop(F.relu(self.fc1(x)))), dim=1)")},
          ["test_mlp", "test_mlp_hidden"], skip=SKIP_03),
    wrong("mlp_dropout_on_inputs", NB3,
          {"mlp": edit(NB3, "mlp", "self.fc2(self.drop(F.relu(self.fc1(x))))", "self.fc2(F.relu(self.fc1(x if x.is_sparse or x.layout != torch.strided else self.drop(x))))")},
          ["test_mlp_hidden"], skip=SKIP_03),
    # evaluation hygiene
    wrong("predict_logits_without_no_grad", NB3,
          {"train_steps": [replace("    with torch.no_grad():\n        for start", "    if True:  # no torch.no_grad()\n        for start"),
                           replace(".float().cpu())", ".detach().float().cpu())")]},
          ["test_predict_logits", "test_predict_logits_hidden"], skip=SKIP_03),
    wrong("predict_logits_no_grad_not_entered", NB3,
          {"train_steps": [replace("    with torch.no_grad():\n        for start", "    torch.no_grad()\n    if True:\n        for start"),
                           replace(".float().cpu())", ".detach().float().cpu())")]},
          ["test_predict_logits", "test_predict_logits_hidden"], skip=SKIP_03),
    # devices: batches not moved, a mask made on the CPU
    wrong("train_steps_labels_on_cpu", NB3,
          {"train_steps": edit(NB3, "train_steps", "yb = torch.as_tensor(np.asarray(yb), dtype=torch.int64, device=device)",
                               "yb = torch.as_tensor(np.asarray(yb), dtype=torch.int64)")},
          ["test_train_steps_hidden"], skip=SKIP_03),
    wrong("train_steps_batch_on_cpu", NB3,
          {"train_steps": edit(NB3, "train_steps", "xb = to_tensor(xb, device)",
                               "xb = torch.as_tensor(xb.toarray() if sp.issparse(xb) else xb, dtype=torch.float32)")},
          ["test_train_steps_hidden"], skip=SKIP_03),
    wrong("mlp_dropout_mask_on_cpu", NB3, {"mlp": '''
class MLP(nn.Module):
    def __init__(self, n_features, hidden=32, p_drop=0.5):
        super().__init__()
        self.fc1 = SparseLinear(n_features, hidden)
        self.fc2 = nn.Linear(hidden, 2)
        self.p_drop = p_drop

    def forward(self, x):
        h = F.relu(self.fc1(x))
        if self.training and self.p_drop > 0:
            h = h * (torch.rand(h.shape) >= self.p_drop) / (1 - self.p_drop)
        return self.fc2(h)
'''}, ["test_mlp_hidden"], skip=SKIP_03),
    # devices: results left on the device where the API says CPU
    wrong("predict_logits_on_device", NB3,
          {"train_steps": edit(NB3, "train_steps", ".float().cpu())", ".float())")},
          ["test_predict_logits_hidden"], skip=SKIP_03),
    wrong("predict_logits_filled_on_device", NB3,
          {"train_steps": edit(NB3, "train_steps",
                               "    out = []\n    with torch.no_grad():\n        for start in range(0, X.shape[0], batch_size):\n"
                               "            out.append(model(to_tensor(X[start:start + batch_size], device)).float().cpu())\n"
                               "    return torch.cat(out) if out else torch.zeros(0, 2)",
                               "    logits = torch.zeros(X.shape[0], 2, device=device)\n    with torch.no_grad():\n"
                               "        for start in range(0, X.shape[0], batch_size):\n"
                               "            logits[start:start + batch_size] = model(to_tensor(X[start:start + batch_size], device))\n"
                               "    return logits")},
          ["test_predict_logits_hidden"], skip=SKIP_03),
    # devices: a round trip through numpy
    wrong("predict_logits_through_numpy", NB3,
          {"train_steps": edit(NB3, "train_steps", "out.append(model(to_tensor(X[start:start + batch_size], device)).float().cpu())",
                               "out.append(torch.from_numpy(model(to_tensor(X[start:start + batch_size], device)).float().numpy()))")},
          ["test_predict_logits_hidden"], skip=SKIP_03),
]

# Correct alternatives of 03's training functions (full runs): dropout before the ReLU and functional, tensors
# accumulated on the device, inference_mode and a CPU buffer, fit with a tqdm bar on stderr (shown even though
# the grader sets TQDM_DISABLE) and chunks of ceil(n_batches / evals_per_epoch) batches, a for loop in random_search
NB3_ISSUE10_CORRECT = correct("training_alternatives", NB3, {
    "mlp": '''
class MLP(nn.Module):
    def __init__(self, n_features, hidden=32, p_drop=0.5):
        super().__init__()
        self.first = SparseLinear(n_features, hidden)
        self.last = nn.Linear(hidden, 2)
        self.p_drop = p_drop

    def forward(self, x):
        return self.last(F.relu(F.dropout(self.first(x), self.p_drop, self.training)))
''',
    "train_steps": '''
def train_steps(model, batches, optimizer, device):
    model.train()
    total, count = None, 0
    for xb, yb in batches:
        logits = model(to_tensor(xb, device))
        loss = F.cross_entropy(logits, torch.from_numpy(np.asarray(yb, dtype=np.int64)).to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        part = loss.detach() * len(yb)
        total = part if total is None else total + part
        count += len(yb)
    return float(total) / count if count else 0.0


def predict_logits(model, X, device, batch_size=1024):
    model.eval()
    n = X.shape[0]
    out = torch.empty(n, 2, dtype=torch.float32)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            out[start:stop] = model(to_tensor(X[start:stop], device)).to("cpu", torch.float32)
    return out
''',
    "fit": '''
import math
import sys

from tqdm.auto import tqdm


def fit(model, X, y, train_idx, val_idx, *, lr=1e-3, weight_decay=0.0, batch_size=128, max_epochs=3,
        evals_per_epoch=4, patience=2, seed=0, device=device):
    history = {"epoch": [], "train_loss": [], "val_loss": [], "val_acc": []}
    start = time.perf_counter()
    optimizer = adamw(model.parameters(), lr=lr, weight_decay=weight_decay)
    y = np.asarray(y)
    X_val, y_val = X[val_idx], torch.as_tensor(y[val_idx]).long()
    per_chunk = math.ceil(math.ceil(len(train_idx) / batch_size) / evals_per_epoch)
    best, best_weights, since_best = math.inf, None, 0
    stop = False
    for epoch in tqdm(range(max_epochs), desc="fit", file=sys.stderr, disable=False):
        batches = ((X[rows], labels) for rows, labels in
                   iterate_minibatches(train_idx, y[train_idx], batch_size, shuffle=True, seed=seed + epoch))
        for k in range(evals_per_epoch):
            train_loss = train_steps(model, itertools.islice(batches, per_chunk), optimizer, device)
            logits = predict_logits(model, X_val, device)
            val_loss = float(F.cross_entropy(logits, y_val))
            history["epoch"].append(epoch + (k + 1) / evals_per_epoch)
            history["train_loss"].append(train_loss)
            history["val_loss"].append(val_loss)
            history["val_acc"].append(float((logits.argmax(1) == y_val).double().mean()))
            if val_loss < best:
                best, since_best = val_loss, 0
                best_weights = {name: t.detach().clone() for name, t in model.state_dict().items()}
            else:
                since_best += 1
                if since_best >= patience:
                    stop = True
                    break
        if stop:
            break
    if best_weights is not None:
        model.load_state_dict(best_weights)
    history["seconds"] = time.perf_counter() - start
    print(f"fit: {len(history['epoch'])} evaluations", file=sys.stderr)
    return history
''',
    "random_search": '''
def random_search(sample_config, evaluate, budget_s, seed=0, max_trials=None):
    rng = np.random.default_rng(seed)
    t0 = time.monotonic()
    trials = []
    for trial in itertools.count():
        if time.monotonic() - t0 >= budget_s or (max_trials is not None and trial >= max_trials):
            break
        config = sample_config(rng)
        trials.append((config, evaluate(config)))
    return sorted(trials, key=lambda pair: -pair[1])
''',
})

# the vocabulary of the training reviews from map() instead of a generator expression (02's answer cell without a
# function; graded with count_vector_alternatives, which changes other cells)
NB2_VOCABULARY_CORRECT = correct("vocabulary_from_map", NB2, {
    "fit_vocabulary": '''
t0 = time.time()
vocabulary = build_vocabulary(map(analyze, train.texts), max_features=MAX_FEATURES)
print(f"{len(vocabulary):,} features in {time.time() - t0:.1f} s")
''',
})

MUTANTS = (NB1_WRONG + [NB1_CORRECT, NB1_PROGRESS] + NB1_ISSUE10 + NB1_ISSUE10_CORRECT + NB2_WRONG + [NB2_CORRECT, NB2_VOCABULARY_CORRECT]
           + NB3_WRONG + [NB3_CORRECT, NB3_PROGRESS] + NB3_ISSUE10 + [NB3_ISSUE10_CORRECT])
