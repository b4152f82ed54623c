"""The one-hidden-layer MLP: h = act(x W1ᵀ + b1), out = h W2ᵀ + b2, by hand-written backprop."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import Model
from ..pieces import scope as pieces_scope
from .elementwise import _ACT, _DACT, _bce_runs, _dot_rows, bce_dout, mse_dout

# The batched mlp forward pass (losses_many) works in chunks of parameter vectors so that its
# (chunk, H, n) hidden activations stay below this many float64 numbers (~16 MB).
_MANY_CHUNK_ELEMENTS = 2_000_000
#: A pass over many samples (the whole data set: the loss, the full gradient, the noise
#: readout's pieces) forms the hidden layer for at most this many (sample, unit) pairs at once:
#: at N = 10⁶ and H = 8 the one (N, H) array was 64 MB, several of them at once. Up to this
#: size the one-array computation is used as before.
PASS_ELEMENTS = 1 << 19


def _pass_rows(hidden: int) -> int:
    """Samples per piece of a pass (a multiple of 64: the same BLAS kernels for the rows)."""
    rows = max(64, PASS_ELEMENTS // max(1, hidden))
    return rows - rows % 64



class MLPModel(Model):
    """One hidden layer: a = X W1ᵀ + b1, h = act(a), out = h W2ᵀ + b2.

    Backward pass for δ_i = ∂ℓ_i/∂out_i (2(out − y) for mse, σ(out) − y for bce):
    ∂ℓ_i/∂b2 = δ_i, ∂ℓ_i/∂W2 = δ_i h_i, ∂ℓ_i/∂a_i = δ_i W2 ⊙ act'(a_i) =: Δ_i,
    ∂ℓ_i/∂b1 = Δ_i, ∂ℓ_i/∂W1 = Δ_i x_iᵀ (an outer product, H × d).

    The training step (:meth:`loss_and_grad`, :meth:`loss_and_grad_runs`) sums these over the
    batch as ∇W1 = W2 ⊙ (Dᵀ X), ∇b1 = W2 ⊙ (1ᵀ D) with D_i = δ_i act'(a_i) (Δ_i = W2 ⊙ D_i, so the
    same sums with W2 taken out of them: one product less per sample, and BLAS calls).
    """

    def __init__(self, loss_name: str, n_features: int, hidden: int, activation: str) -> None:
        self.name = "mlp"
        self.loss_name = loss_name
        self.n_features = n_features
        self.hidden = hidden
        self.activation = activation
        H, d = hidden, n_features
        self.n_params = H * d + 2 * H + 1
        self.many_floats = H + 1        # forward_many's hidden layer (g, H, n) and output (g, n)
        # Offsets of the blocks in the flat vector: W1 | b1 | W2 | b2.
        self._w1_end = H * d
        self._b1_end = H * d + H
        self._w2_end = H * d + 2 * H
        self.param_names = (
            tuple(f"W1[{j},{k}]" for j in range(H) for k in range(d))
            + tuple(f"b1[{j}]" for j in range(H))
            + tuple(f"W2[{j}]" for j in range(H))
            + ("b2",)
        )
        self._act = _ACT[activation]
        self._dact = _DACT[activation]
        self._is_bce = loss_name == "bce"
        # The training step's inputs may carry a column of ones (see :meth:`loss_and_grad`): then
        # a = [X 1] [W1ᵀ; b1], one gemm, whose products and sums are those of X W1ᵀ followed by
        # the add of b1 (the gemm sums each entry's d + 1 products in order, the ones' last: the
        # same roundings). Where a dimension is 1 NumPy calls gemv or an outer product instead,
        # whose sums go in another order: there the inputs are left as they are.
        self.ones_column = hidden >= 2 and n_features >= 2
        # [W1ᵀ; b1] (d + 1, H) gathered from the flat vector in one take
        w1b1 = np.empty((d + 1, H), dtype=np.intp)
        w1b1[:d] = np.arange(H)[None, :] * d + np.arange(d)[:, None]
        w1b1[d] = H * d + np.arange(H)
        self._w1b1 = w1b1

    def init_params(self, rng: np.random.Generator) -> np.ndarray:
        """Like ``torch.nn.Linear``: each weight and bias of a layer ~ U(−1/√fan_in, 1/√fan_in);
        drawn in the flat order W1, b1 (fan_in = d), W2, b2 (fan_in = H)."""
        H, d = self.hidden, self.n_features
        k1 = 1.0 / np.sqrt(d)
        k2 = 1.0 / np.sqrt(H)
        return np.concatenate(
            [
                rng.uniform(-k1, k1, size=H * d),
                rng.uniform(-k1, k1, size=H),
                rng.uniform(-k2, k2, size=H),
                rng.uniform(-k2, k2, size=1),
            ]
        ).astype(np.float64, copy=False)

    def unpack(
        self, params: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        """Views (W1 (H, d), b1 (H,), W2 (H,), b2) into the flat vector (no copies)."""
        W1 = params[: self._w1_end].reshape(self.hidden, self.n_features)
        return W1, params[self._w1_end : self._b1_end], params[self._b1_end : self._w2_end], params[-1]

    def _hidden(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """h = act(X W1ᵀ + b1), shape (n, H)."""
        a = X @ params[: self._w1_end].reshape(self.hidden, self.n_features).T
        a += params[self._w1_end : self._b1_end]
        return self._act(a)

    def forward(self, params: np.ndarray, X: np.ndarray) -> np.ndarray:
        """out = h W2ᵀ + b2, shape (n,); over many samples in pieces of rows (a row's output
        is its own: the pieces hold the whole's numbers, tests/test_memory_readings.py)."""
        n, rows = X.shape[0], _pass_rows(self.hidden)
        if n > rows:
            out = np.empty(n, dtype=np.float64)
            with pieces_scope():
                for a in range(0, n, rows):
                    out[a:a + rows] = self.forward(params, X[a:a + rows])
            return out
        h = self._hidden(params, X)
        out = h @ params[self._b1_end : self._w2_end]
        out += params[-1]
        return out

    def forward_many(self, params_batch: np.ndarray, X: np.ndarray) -> np.ndarray:
        """(G, n) outputs for G parameter vectors, in chunks of G that bound the memory.

        For a chunk of g vectors, A = W1 stacked to (g·H, d) times Xᵀ gives all hidden
        pre-activations (g, H, n) in one matrix product.
        """
        H, d = self.hidden, self.n_features
        G = params_batch.shape[0]
        n = X.shape[0]
        out = np.empty((G, n), dtype=np.float64)
        chunk = max(1, _MANY_CHUNK_ELEMENTS // max(1, H * n))
        XT = np.ascontiguousarray(X.T)
        for start in range(0, G, chunk):
            pb = params_batch[start : start + chunk]
            g = pb.shape[0]
            a = (pb[:, : self._w1_end].reshape(g * H, d) @ XT).reshape(g, H, n)
            a += pb[:, self._w1_end : self._b1_end, None]
            h = self._act(a)
            res = np.matmul(pb[:, None, self._b1_end : self._w2_end], h)[:, 0, :]
            res += pb[:, -1:]
            out[start : start + g] = res
        return out

    def _backward_delta(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> tuple[
        np.ndarray, np.ndarray, np.ndarray
    ]:
        """Forward pass, then δ (n,) = ∂ℓ/∂out, h (n, H) and Δ (n, H) = ∂ℓ/∂a."""
        h = self._hidden(params, X)
        W2 = params[self._b1_end : self._w2_end]
        out = h @ W2
        out += params[-1]
        delta = bce_dout(out, y) if self._is_bce else mse_dout(out, y)
        dA = np.multiply.outer(delta, W2)
        dA *= self._dact(h)
        return delta, h, dA

    def per_sample_grads(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Row i: [Δ_i x_iᵀ (row-major), Δ_i, δ_i h_i, δ_i]."""
        H, d = self.hidden, self.n_features
        n = X.shape[0]
        delta, h, dA = self._backward_delta(params, X, y)
        grads = np.empty((n, self.n_params), dtype=np.float64)
        grads[:, : self._w1_end] = (dA[:, :, None] * X[:, None, :]).reshape(n, H * d)
        grads[:, self._w1_end : self._b1_end] = dA
        np.multiply(delta[:, None], h, out=grads[:, self._b1_end : self._w2_end])
        grads[:, -1] = delta
        return grads

    def batch_grad(self, params: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∇W1 = Δᵀ X / n, ∇b1 = Σ Δ / n, ∇W2 = δᵀ h / n, ∇b2 = Σ δ / n; over many samples
        the sums of pieces of rows added (the same sums in another order: a few units in the
        last place)."""
        n, rows = X.shape[0], _pass_rows(self.hidden)
        if n > rows:
            total = np.zeros(self.n_params, dtype=np.float64)
            with pieces_scope():
                for a in range(0, n, rows):
                    b = min(n, a + rows)
                    total += self.batch_grad(params, X[a:b], y[a:b]) * (b - a)
            total /= n
            return total
        delta, h, dA = self._backward_delta(params, X, y)
        grad = np.empty(self.n_params, dtype=np.float64)
        grad[: self._w1_end] = (dA.T @ X).ravel()
        grad[self._w1_end : self._b1_end] = dA.sum(axis=0)
        grad[self._b1_end : self._w2_end] = delta @ h
        grad[-1] = delta.sum()
        grad /= n
        return grad

    def loss_and_grad(
        self, params: np.ndarray, X: np.ndarray, y: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Mean loss and its gradient in one forward + backward pass (see the class docstring).

        ``X`` may carry a trailing column of ones ((n, d + 1), :attr:`ones_column`): then the
        pre-activation is [X 1] [W1ᵀ; b1], one gemm, which gives the numbers of X W1ᵀ + b1 (see
        ``__init__``; tests/test_models.py) without the add's pass over the (n, H) array.

        A batch of more than :func:`_pass_rows` samples goes in pieces of that many rows (at
        B = 10⁶ and H = 8 each (B, H) array was 64 MB, three at once): each piece's δ scaled by
        the whole batch's 1/n, the pieces' loss sums and gradients added in order (the same sums
        in another order than one pass: a few units in the last place).
        :meth:`loss_and_grad_runs` cuts the same pieces: a run of an ensemble stays its lone
        run, bit for bit."""
        n = X.shape[0]
        if n <= _pass_rows(self.hidden):          # the training hot path: one pass, no closure
            raw, grad = self._pass(params, X, y, n)
            return self._mean(raw, n), grad
        return self._summed(n, None, lambda a, b: self._pass(params, X[a:b], y[a:b], n))

    def loss_and_grad_of(self, params: np.ndarray, X: np.ndarray, y: np.ndarray,
                         indices: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`loss_and_grad` of the samples ``indices``, a large batch gathered a piece at a
        time (the pieces :meth:`loss_and_grad` cuts, the same numbers): the batch's inputs are
        never gathered whole (24 MB at B = 10⁶, d = 2)."""
        n = len(indices)

        def piece(a: int, b: int) -> tuple[float, np.ndarray]:
            idx = indices[a:b]
            return self._pass(params, np.take(X, idx, axis=0), np.take(y, idx), n)

        return self._summed(n, None, piece)

    def loss_and_grad_runs_of(self, params_runs: np.ndarray, X: np.ndarray, y: np.ndarray,
                              indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad_runs` of each run's samples ``indices`` ((K, n)), gathered a
        piece at a time as :meth:`loss_and_grad_of`."""
        k, n = indices.shape

        def piece(a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
            idx = indices[:, a:b]
            return self._pass_runs(params_runs, np.take(X, idx, axis=0), np.take(y, idx), n)

        return self._summed(n, k, piece)

    def _summed(self, n: int, k: int | None, piece: Any) -> tuple[Any, np.ndarray]:
        """The mean loss and gradient of a batch of n samples (of one run, or of ``k`` runs) from
        ``piece(a, b)``, the (loss sum, gradient) of its rows [a, b) (:meth:`_pass`,
        :meth:`_pass_runs`): one pass up to :func:`_pass_rows` samples, else those pieces added
        in order (see :meth:`loss_and_grad`)."""
        rows = _pass_rows(self.hidden)
        if n <= rows:
            raw, grad = piece(0, n)
            return self._mean(raw, n), grad
        raw = 0.0 if k is None else np.zeros(k, dtype=np.float64)
        grad = np.zeros(self.n_params if k is None else (k, self.n_params), dtype=np.float64)
        with pieces_scope():
            for a in range(0, n, rows):
                part, g = piece(a, min(n, a + rows))
                raw += part
                grad += g
        return self._mean(raw, n), grad

    def _mean(self, raw: Any, n: int) -> Any:
        """The mean loss from the sum of the loss terms as one pass forms it (bce: Σ/n; mse:
        r·r times 1/n)."""
        return raw / n if self._is_bce else raw * (1.0 / n)

    def _pass(self, params: np.ndarray, X: np.ndarray, y: np.ndarray, total: int) -> tuple[float, np.ndarray]:
        """(Σ of the loss terms, gradient) of the rows X, y of a batch of ``total`` samples: δ
        scaled by 1/total (see :meth:`loss_and_grad`)."""
        n, d = X.shape
        inv_n = 1.0 / total
        w1_end, b1_end, w2_end = self._w1_end, self._b1_end, self._w2_end
        if d == self.n_features:
            a = X @ params[:w1_end].reshape(self.hidden, d).T
            a += params[w1_end:b1_end]
        else:
            d = self.n_features
            if n > 1:
                a = X @ params[self._w1b1]
            else:                        # one sample: the product is a gemv, b1 added after it
                a = X[:, :d] @ params[:w1_end].reshape(self.hidden, d).T
                a += params[w1_end:b1_end]
            X = X[:, :d]
        h = self._act(a)
        W2 = params[b1_end:w2_end]
        z = h @ W2
        z += params[-1]
        if self._is_bce:
            e = np.exp(-np.abs(z))
            raw = float((np.maximum(z, 0.0) - z * y + np.log1p(e)).sum())
            delta = np.maximum(e, z >= 0.0)  # numerator of the stable σ(z), see sigmoid()
            e += 1.0
            delta /= e
            delta -= y
            delta *= inv_n
        else:
            z -= y
            raw = float(z @ z)
            z *= 2.0 * inv_n
            delta = z
        D = self._dact(h)
        D *= delta[:, None]            # D = act′(a) ⊙ δ; Δ = D ⊙ W2 is never formed
        grad = np.empty(self.n_params, dtype=np.float64)
        np.multiply(D.T @ X, W2[:, None], out=grad[:w1_end].reshape(self.hidden, self.n_features))
        np.multiply(np.ones(n) @ D, W2, out=grad[w1_end:b1_end])
        grad[b1_end:w2_end] = delta @ h
        grad[-1] = delta.sum()
        return raw, grad

    def _hidden_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        """h = act(X W1ᵀ + b1) for K runs: X (K, n, d) or shared (n, d) → (K, n, H).
        One gemm per run (stacked matmul) with W1ᵀ as the same transposed view as :meth:`_hidden`;
        X (K, n, d + 1) ending in a column of ones (:meth:`loss_and_grad`): [X 1] [W1ᵀ; b1]."""
        k = params_runs.shape[0]
        if X.shape[-1] != self.n_features:
            if X.shape[-2] > 1:
                return self._act(np.matmul(X, np.take(params_runs, self._w1b1, axis=1)))
            X = X[..., :self.n_features]
        W1 = params_runs[:, : self._w1_end].reshape(k, self.hidden, self.n_features)
        if X.shape[-2] > 1:
            # W1ᵀ copied contiguous: gemm reads it untransposed, the same products summed in the
            # same order (the packed panels are equal), and NumPy's matmul loop over K slices is
            # cheaper without the transposed strides. One sample (gemv, whose sum order depends
            # on the transpose flag) keeps the lone run's transposed view.
            W1 = np.ascontiguousarray(W1.transpose(0, 2, 1))
            a = np.matmul(X, W1)
        else:
            a = np.matmul(X, W1.transpose(0, 2, 1))
        a += params_runs[:, None, self._w1_end : self._b1_end]
        return self._act(a)

    def output_bound_runs(self, params_runs: np.ndarray, x_absmax: np.ndarray) -> np.ndarray:
        """|out| ≤ Σ_j |W2_j| max|h_j| + |b2| with max|h_j| = 1 (tanh, sigmoid) or the bound
        A_j = Σ_k |W1_jk| max|x_k| + |b1_j| of the pre-activation (relu); A_j is also required
        to stay below 1e300 (a finite pre-activation)."""
        k = params_runs.shape[0]
        with np.errstate(all="ignore"):
            W1 = np.abs(params_runs[:, : self._w1_end].reshape(k, self.hidden, self.n_features))
            a = W1 @ x_absmax + np.abs(params_runs[:, self._w1_end : self._b1_end])
            h = a if self.activation == "relu" else np.ones_like(a)
            r = np.sum(np.abs(params_runs[:, self._b1_end : self._w2_end]) * h, axis=1)
            r = r + np.abs(params_runs[:, -1])
            r = np.where(np.max(a, axis=1) < 1e300, r, np.inf)
        return r

    def _forward_shared_runs(self, params_runs: np.ndarray, X: np.ndarray) -> np.ndarray:
        k, n = params_runs.shape[0], X.shape[0]
        rows = max(64, _pass_rows(self.hidden) // max(1, k))
        rows -= rows % 64
        if n > rows:                  # K runs over many samples: pieces of rows (see forward)
            out = np.empty((k, n), dtype=np.float64)
            with pieces_scope():
                for a in range(0, n, rows):
                    out[:, a:a + rows] = self._forward_shared_runs(params_runs, X[a:a + rows])
            return out
        h = self._hidden_runs(params_runs, X)
        out = np.matmul(h, params_runs[:, self._b1_end : self._w2_end, None])[:, :, 0]
        out += params_runs[:, -1:]
        return out

    def loss_and_grad_runs(
        self, params_runs: np.ndarray, X_runs: np.ndarray, y_runs: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`loss_and_grad` for K runs, the same formulas step for step, and the same pieces
        of a large batch (see there; X_runs (K, n, d), or (K, n, d + 1) ending in a column of
        ones)."""
        k, n = y_runs.shape
        if n <= _pass_rows(self.hidden):          # the ensemble's hot path, as loss_and_grad's
            raw, grad = self._pass_runs(params_runs, X_runs, y_runs, n)
            return self._mean(raw, n), grad
        return self._summed(n, k, lambda a, b: self._pass_runs(params_runs, X_runs[:, a:b],
                                                                y_runs[:, a:b], n))

    def _pass_runs(self, params_runs: np.ndarray, X_runs: np.ndarray, y_runs: np.ndarray,
                   total: int) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_pass` for K runs: ((K,) sums of the loss terms, (K, P) gradients)."""
        k, n = y_runs.shape
        inv_n = 1.0 / total
        w1_end, b1_end, w2_end = self._w1_end, self._b1_end, self._w2_end
        h = self._hidden_runs(params_runs, X_runs)
        X_runs = X_runs[..., :self.n_features]
        W2 = params_runs[:, b1_end:w2_end]
        z = np.matmul(h, W2[:, :, None])[:, :, 0]
        z += params_runs[:, -1:]
        if self._is_bce:
            raw, delta, delta_sum = _bce_runs(z, y_runs, n, True, of=total)
        else:
            z -= y_runs
            raw = _dot_rows(z)
            z *= 2.0 * inv_n
            delta, delta_sum = z, None
        D = self._dact(h)
        D *= delta[:, :, None]
        grad = np.empty((k, self.n_params), dtype=np.float64)
        np.multiply(np.matmul(D.transpose(0, 2, 1), X_runs), W2[:, :, None],
                    out=grad[:, :w1_end].reshape(k, self.hidden, self.n_features))
        np.multiply(np.matmul(np.ones((1, 1, n)), D)[:, 0, :], W2, out=grad[:, w1_end:b1_end])
        grad[:, b1_end:w2_end] = np.matmul(delta[:, None, :], h)[:, 0, :]
        grad[:, -1] = delta.sum(axis=1) if delta_sum is None else delta_sum
        return raw, grad

