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
          ["test_pairwise_sq_dists"]),
    wrong("softmax_without_max_shift", NB1,
          {"softmax": edit(NB1, "softmax", "torch.exp(z - z.max(dim=dim, keepdim=True).values)", "torch.exp(z)")},
          ["test_softmax"]),
    wrong("logistic_grad_sum_not_mean", NB1,
          {"logistic_loss": edit(NB1, "logistic_loss", "dz = (torch.sigmoid(X @ w + b) - y) / X.shape[0]",
                                 "dz = torch.sigmoid(X @ w + b) - y")},
          ["test_logistic_grad"]),
    wrong("affine_backward_db_mean", NB1,
          {"affine_function": edit(NB1, "affine_function", "dout.sum(dim=0)", "dout.mean(dim=0)")},
          ["test_affine_backward"]),
    wrong("affine_backward_dw_transposed", NB1,
          {"affine_function": edit(NB1, "affine_function", "x.T @ dout", "dout.T @ x")},
          ["test_affine_backward"]),
    # "no dropout scaling": a hand-rolled dropout that drops but does not scale by 1/(1-p), so the
    # network sees larger activations at eval time than in training.
    wrong("dropout_without_scaling", NB1,
          {"dropout": edit(NB1, "dropout", "return x * mask / (1.0 - self.p)", "return x * mask")},
          ["test_dropout_train"]),
    wrong("dropout_active_in_eval", NB1,
          {"dropout": edit(NB1, "dropout", "if not self.training or self.p == 0:", "if self.p == 0:")},
          ["test_dropout_eval"]),
    wrong("sgd_momentum_dampened", NB1,
          {"sgd_momentum": edit(NB1, "sgd_momentum", 'state["velocity"].mul_(group["momentum"]).add_(p.grad)',
                                'state["velocity"].mul_(group["momentum"]).add_(p.grad, alpha=1 - group["momentum"])')},
          ["test_sgd_momentum"]),
    wrong("train_epoch_without_zero_grad", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "        optimizer.zero_grad()\n", "")},
          ["test_train_epoch"]),
    wrong("train_epoch_without_train_mode", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    model.train()\n", "")},
          ["test_train_epoch"]),
    wrong("evaluate_in_train_mode", NB1,
          {"train_epoch": edit(NB1, "train_epoch", "    model.eval()\n", "")},
          ["test_evaluate"]),
    wrong("affine_layer_unscaled_init", NB1,
          {"affine_layer": edit(NB1, "affine_layer", "torch.empty(in_features, out_features).uniform_(-bound, bound)",
                                "torch.randn(in_features, out_features)")},
          ["test_affine_layer"]),
    wrong("two_layer_net_without_dropout", NB1,
          {"two_layer_net": edit(NB1, "two_layer_net", "self.drop = Dropout(p_drop)", "self.drop = nn.Identity()")},
          ["test_two_layer_net"]),
    wrong("array_dataset_float_labels", NB1,
          {"array_dataset": edit(NB1, "array_dataset", "dtype=torch.int64", "dtype=torch.float32")},
          ["test_array_dataset"]),
    wrong("spirals_two_epochs", NB1,
          {"train_spirals": edit(NB1, "train_spirals", "range(100)", "range(2)")},
          ["test_spiral_accuracy"]),
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
          ["test_vocabulary_train_only"]),
    wrong("tokenize_keeps_br_tags", NB2,
          {"tokenize": edit(NB2, "tokenize", 'text.replace("<br />", " ").lower()', "text.lower()")},
          ["test_tokenize"], skip=SKIP_02),
    # a vocabulary of the least frequent features: caught by the grader's counts of the training reviews
    wrong("vocabulary_least_frequent", NB2,
          {"fit_vocabulary": [replace("vocabulary = build_vocabulary(", "_all = build_vocabulary("),
                              replace(", MAX_FEATURES)", ")\nvocabulary = {f: j for j, f in enumerate(list(_all)[-MAX_FEATURES:])}")]},
          ["test_vocabulary_train_only"]),
    wrong("ngrams_without_unigrams", NB2,
          {"tokenize": edit(NB2, "tokenize", "    features = list(tokens)\n", "    features = []\n")},
          ["test_ngrams"], skip=SKIP_02),
    wrong("vocabulary_columns_from_one", NB2,
          {"build_vocabulary": edit(NB2, "build_vocabulary", "enumerate(counts.most_common(max_features))",
                                    "enumerate(counts.most_common(max_features), start=1)")},
          ["test_build_vocabulary"], skip=SKIP_02),
    wrong("vectorize_keeps_duplicate_entries", NB2,
          {"vectorize": edit(NB2, "vectorize", "    X.sum_duplicates()\n", "")},
          ["test_vectorize"], skip=SKIP_02),
    wrong("log_counts_modifies_input", NB2,
          {"variants": edit(NB2, "variants", "    out = X.copy()\n    out.data = np.log1p(out.data)",
                            "    out = X\n    out.data = np.log1p(out.data)")},
          ["test_log_binary"], skip=SKIP_02),
    wrong("log_count_ratio_unnormalized", NB2,
          {"variants": edit(NB2, "variants", "return np.log(p / p.sum()) - np.log(q / q.sum())", "return np.log(p) - np.log(q)")},
          ["test_log_count_ratio"], skip=SKIP_02),
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
          ["test_vocabulary_train_only"], skip=SKIP_03_TRAINING),
    wrong("train_steps_without_zero_grad", NB3,
          {"train_steps": edit(NB3, "train_steps", "        optimizer.zero_grad()\n", "")},
          ["test_train_steps"], skip=SKIP_03),
    wrong("train_steps_without_train_mode", NB3,
          {"train_steps": edit(NB3, "train_steps", "    model.train()\n", "")},
          ["test_train_steps"], skip=SKIP_03),
    # evaluation with dropout still on
    wrong("predict_in_train_mode", NB3,
          {"train_steps": edit(NB3, "train_steps", "    model.eval()\n", "")},
          ["test_predict_logits"], skip=SKIP_03),
    wrong("mlp_without_nonlinearity", NB3,
          {"mlp": edit(NB3, "mlp", "self.fc2(self.drop(F.relu(self.fc1(x))))", "self.fc2(self.drop(self.fc1(x)))")},
          ["test_mlp"], skip=SKIP_03),
    wrong("fit_keeps_last_weights", NB3,
          {"fit": edit(NB3, "fit", "    model.load_state_dict(best_state)\n", "")},
          ["test_fit"], skip=SKIP_03),
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
          ["test_random_search"], skip=SKIP_03),
    # a second network instead of logistic regression (test_baseline builds the test features itself
    # when `model` is missing, so the network's training can be skipped)
    wrong("baseline_with_hidden_layer", NB3,
          {"baseline": edit(NB3, "baseline", "baseline = SparseLinear(X_train.shape[1], 2).to(device)",
                            "baseline = MLP(X_train.shape[1]).to(device)")},
          ["test_baseline"], skip={"train_model": SKIPPED}, slow=True),
    # test reviews in the training rows: the grader's accuracy exceeds what unseen reviews allow
    wrong("trained_on_test_reviews", NB3,
          {"train_model": edit(NB3, "train_model",
                               "history = fit(model, X_train, y_train, train_idx, val_idx,",
                               "history = fit(model, sp.vstack([X_train, featurize(test.texts)]).tocsr(), np.concatenate([y_train, y_test]),\n"
                               "              np.concatenate([train_idx, np.arange(len(y_train), len(y_train) + len(y_test))]), val_idx,"),
           "baseline": SKIPPED},
          ["test_accuracy_80", "test_accuracy_85", "test_accuracy_88"], slow=True),
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

MUTANTS = (NB1_WRONG + [NB1_CORRECT, NB1_PROGRESS] + NB2_WRONG + [NB2_CORRECT] + NB3_WRONG
           + [NB3_CORRECT, NB3_PROGRESS])
