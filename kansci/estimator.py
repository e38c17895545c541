"""``KANRegressor``: a scikit-learn estimator around :class:`kansci.KAN` and :func:`kansci.fit`."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from kansci.core.checks import as_real
from kansci.core.model import KAN
from kansci.core.train import fit as fit_model
from kansci.datasets.base import Dataset

__all__ = ["KANRegressor"]


class KANRegressor(RegressorMixin, BaseEstimator):
    """Kolmogorov-Arnold Network regressor with the scikit-learn interface.

    Inputs are scaled per feature from their training ``[min, max]`` onto the
    grid range ``[-1, 1]`` (constant features map to -1); targets are
    standardized for training and predictions are mapped back.

    Parameters
    ----------
    hidden : tuple of (int or [n_sum, n_mult]) or int, default=(5,)
        Hidden layer widths; the network is ``[n_features, *hidden, n_outputs]``.
        An int is one hidden layer; ``()`` gives a single KAN layer. An entry
        ``[n_sum, n_mult]`` is a layer of ``n_sum`` sum and ``n_mult``
        multiplication nodes (KAN 2.0): ``hidden=([3, 2],)`` has one hidden
        layer of 3 sum and 2 multiplication nodes, while ``hidden=(3, 2)`` has
        two hidden layers.
    grid : int, default=5
        Number of spline grid intervals.
    spline_order : int, default=3
        Spline order k (3 = cubic).
    steps : int, default=50
        Optimizer steps (one LBFGS step runs up to 20 iterations).
    optimizer : {"lbfgs", "adam", "lm"}, default="lbfgs"
        "lm" is Levenberg-Marquardt (one Jacobian per step): precision fits
        of small networks, full batch, no regularization.
    learning_rate : float, optional
        Default 1.0 for LBFGS, 1e-3 for Adam (unused by "lm").
    batch_size : int, default=-1
        Minibatch drawn each step; -1 uses all samples.
    regularization : float, default=0.0
        Weight of the sparsity penalty (``lamb`` of :func:`kansci.fit`).
    update_grid : bool, default=True
        Adapt the grids to the data during the first 50 steps.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the network.
    random_state : int, RandomState instance or None, default=0
        Seeds the initialization and minibatch draws; an int is used as is.

    Attributes
    ----------
    model_ : kansci.KAN
        The trained network (acts on scaled inputs, standardized targets).
    history_ : kansci.History
        Training history returned by :func:`kansci.fit` (all of X is its train
        and its test split, so ``test_rmse`` repeats ``train_rmse``).
    n_features_in_ : int
    n_outputs_ : int
    x_min_, x_scale_ : ndarray of shape (n_features_in_,)
        Scaled inputs are ``(X - x_min_) * x_scale_ - 1``.
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        Standardized targets are ``(y - y_mean_) / y_scale_``.

    Examples
    --------
    >>> import numpy as np
    >>> from kansci import KANRegressor
    >>> X = np.random.default_rng(0).uniform(-1, 1, (200, 2))
    >>> y = np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2
    >>> reg = KANRegressor(hidden=(5,), steps=5).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.99)
    True
    """

    def __init__(
        self,
        hidden: tuple[int, ...] = (5,),
        grid: int = 5,
        spline_order: int = 3,
        steps: int = 50,
        optimizer: str = "lbfgs",
        learning_rate: float | None = None,
        batch_size: int = -1,
        regularization: float = 0.0,
        update_grid: bool = True,
        dtype: str = "float64",
        random_state: int | np.random.RandomState | None = 0,
    ) -> None:
        self.hidden = hidden
        self.grid = grid
        self.spline_order = spline_order
        self.steps = steps
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.regularization = regularization
        self.update_grid = update_grid
        self.dtype = dtype
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def fit(self, X, y) -> KANRegressor:
        """Train a fresh KAN on ``X, y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : KANRegressor

        Raises
        ------
        ValueError
            On NaN/inf, empty or mismatched data, or invalid parameters.
        """
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        as_real("regularization", self.regularization, minimum=0.0)  # named as the estimator calls it
        hidden = _hidden_layers(self.hidden)
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        self._y_1d = y.ndim == 1
        y = y.reshape(len(y), -1)
        self.n_outputs_ = y.shape[1]
        x_min, x_max = X.min(axis=0), X.max(axis=0)
        span = x_max - x_min
        self.x_min_ = x_min
        self.x_scale_ = np.divide(2.0, span, out=np.ones_like(span), where=span > 0)  # constant: 1
        self.y_mean_ = y.mean(axis=0)
        y_std = y.std(axis=0)
        self.y_scale_ = np.where(y_std > 0, y_std, 1.0)
        rs = self.random_state
        seed = int(rs) if isinstance(rs, numbers.Integral) else int(check_random_state(rs).randint(2**31 - 1))
        torch_dtype = getattr(torch, self.dtype)
        self.model_ = KAN(
            [X.shape[1], *hidden, self.n_outputs_],
            grid=self.grid,
            k=self.spline_order,
            seed=seed,
            dtype=torch_dtype,
        )
        x = self._scaled_tensor(X)
        target = torch.from_numpy((y - self.y_mean_) / self.y_scale_).to(torch_dtype)
        self.history_ = fit_model(
            self.model_,
            Dataset(x, target, x, target),
            steps=self.steps,
            opt=self.optimizer,
            lr=self.learning_rate,
            batch=self.batch_size,
            lamb=self.regularization,
            update_grid=self.update_grid,
            progress=False,
            seed=seed,
        )
        if self.history_.status == "nan_restored":
            warnings.warn(
                "training stopped early at a non-finite loss (history_.status == 'nan_restored'); "
                "predictions may be poor. Try a smaller learning_rate.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def predict(self, X) -> np.ndarray:
        """Predict targets for ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for 1-D training targets, else (n_samples, n_outputs)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        with torch.no_grad():
            out = self.model_(self._scaled_tensor(X)).numpy()
        out = out * self.y_scale_ + self.y_mean_
        return out.ravel() if self._y_1d else out

    def _scaled_tensor(self, X: np.ndarray) -> torch.Tensor:
        """Inputs mapped onto the grid range, as a fresh tensor of the network's dtype."""
        scaled = (X - self.x_min_) * self.x_scale_ - 1.0
        return torch.from_numpy(np.ascontiguousarray(scaled)).to(self.model_.dtype)


def _hidden_layers(hidden) -> list[int | list[int]]:
    """The hidden layers of ``hidden`` as KAN width entries: ints and ``[n_sum, n_mult]`` lists (fresh copies).

    Raises
    ------
    ValueError
        If ``hidden`` is not an int or a sequence of layer widths and
        ``[n_sum, n_mult]`` pairs of non-negative integers with at least one node.
    """
    entries = (hidden,) if _is_count(hidden) else hidden
    if isinstance(entries, (str, bytes)) or not hasattr(entries, "__iter__"):
        raise ValueError(_hidden_message(hidden))
    layers = []
    for entry in entries:
        if _is_count(entry) and entry >= 1:
            layers.append(int(entry))
        elif _is_pair(entry):
            layers.append([int(n) for n in entry])
        else:
            raise ValueError(_hidden_message(hidden, entry))
    return layers


def _is_count(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_pair(entry) -> bool:
    """``[n_sum, n_mult]``: two non-negative integers, at least one node."""
    if isinstance(entry, (str, bytes)) or not hasattr(entry, "__iter__"):
        return False
    pair = list(entry)
    return len(pair) == 2 and all(_is_count(n) and n >= 0 for n in pair) and sum(pair) >= 1


def _hidden_message(hidden, entry=None) -> str:
    bad = "" if entry is None else f" (bad entry {entry!r})"
    return (
        f"hidden must be a positive integer or a sequence of hidden layers, each a positive integer (sum nodes) "
        f"or a pair [n_sum, n_mult] of sum and multiplication nodes, got {hidden!r}{bad}; "
        f"e.g. hidden=(5,) or hidden=([3, 2],)"
    )
