"""Anomaly detection with an autoencoder, as a scikit-learn estimator.

    from aezoo.anomaly import AutoencoderDetector

    detector = AutoencoderDetector(contamination=0.05, random_state=0).fit(x_train)
    scores = detector.anomaly_score(x_test)     # higher = more anomalous
    labels = detector.predict(x_test)           # -1 anomaly, 1 normal (scikit-learn's convention)
    detector.save("detector.keras"); AutoencoderDetector.load("detector.keras")
    detector.export("saved_models/serving", "detector")  # anomaly_score, is_anomaly signatures

The score adds two things an autoencoder knows about a row, each divided by
its median over the training rows so neither dominates (the second weighted
by ``code_weight``, 0.5 by default):

- the reconstruction error (squared error summed over the standardized
  features): rows off the data's manifold;
- the Mahalanobis distance of the row's code from the training codes'
  Gaussian: rows on the manifold but far out along it, which an autoencoder
  reconstructs well and reconstruction error alone misses.

This is the idea of DAGMM (Zong et al. 2018: a density model on the code and
the reconstruction error) with one Gaussian instead of a learned mixture, so
it is fitted in closed form after training. ``score_type="reconstruction"`` gives
the plain reconstruction error.

The detector is an ensemble of ``n_estimators`` small autoencoders (3 by
default) whose scores are averaged, after Chen et al. 2017 ("Outlier
Detection with Autoencoder Ensembles", RandNet): members that differ in
architecture make different errors, and the average is steadier from table
to table than any one member. Member k gets its own seed and held-out rows,
and (when ``hidden_dims``/``latent_dim`` are "auto") its own shape from
``MEMBER_SHAPES``: the hidden width (half the features or all of them), the
code width (a quarter or an eighth of them) and the activation (ReLU or
tanh). Defaults that work on a table the detector has never seen:
standardization inside the model, a code of 2 to 32 units, early stopping
on a held-out tenth of the training rows, large batches, and training in one
compiled function per epoch (``aezoo.array_fit``). Anomalies inside the
training data are tolerated by the small code, early stopping and the
ensemble (a trimmed second pass, refitting without the worst-reconstructed
rows, did not help on the ODDS tables in a trial, so it is not offered).

``score_samples`` and ``decision_function`` follow scikit-learn's outlier
detectors: lower means more abnormal, and ``decision_function`` is negative
for the rows ``predict`` calls anomalies; ``threshold_`` is the anomaly score
above which a row is an anomaly, set so that ``contamination`` of the
training rows lie above it.
"""

import keras
import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin

from aezoo.array_fit import fit_arrays

SCORES = ("combined", "reconstruction")
# Member k's (hidden width, code width) as fractions of the feature count,
# and its activation, when the shape is "auto"; cycled for larger ensembles.
MEMBER_SHAPES = (
    (1 / 2, 1 / 4, "relu"),
    (1, 1 / 4, "relu"),
    (1 / 2, 1 / 4, "tanh"),
    (1 / 2, 1 / 8, "relu"),
    (1, 1 / 8, "tanh"),
)

__all__ = ["MEMBER_SHAPES", "SCORES", "AnomalyEnsemble", "AnomalyScorer", "AutoencoderDetector"]


class AutoencoderDetector(OutlierMixin, BaseEstimator):
    """Unsupervised anomaly detector around an aezoo autoencoder (see the module docstring).

    Args:
        backbone: the aezoo variant ("deep", "denoising", "vae", "sparse", ...).
        hidden_dims: encoder widths, or "auto" (one layer; its width from
            ``MEMBER_SHAPES``, at least 4).
        latent_dim: code width, or "auto" (from ``MEMBER_SHAPES``, clipped to [2, 32]).
        n_estimators: autoencoders in the ensemble (scores averaged).
        score_type: "combined" (reconstruction error + code Mahalanobis
            distance) or "reconstruction".
        code_weight: the weight of the code distance in the combined score
            (each term is first divided by its training median).
        scaling: the input scaling inside the model ("standardize", "minmax", None).
        epochs: the most epochs; early stopping usually stops well before.
        batch_size: rows per step, or "auto" (an eighth of the rows, 64 to 1024).
        learning_rate: Adam's.
        validation_fraction: held out for early stopping.
        patience: epochs without a better validation loss before stopping.
        contamination: the expected fraction of anomalies, in (0, 0.5]; sets
            ``threshold_``.
        backbone_kwargs: more arguments for the backbone's constructor (an
            ``activation`` here overrides the members' own).
        random_state: seeds the split, the weights and any noise.
        verbose: Keras' fit verbosity.
    """

    def __init__(self, backbone="deep", hidden_dims="auto", latent_dim="auto", n_estimators=3,
                 score_type="combined", code_weight=0.5, scaling="standardize", epochs=50, batch_size="auto",
                 learning_rate=5e-3, validation_fraction=0.1, patience=3, contamination=0.1,
                 backbone_kwargs=None, random_state=None, verbose=0):
        self.backbone = backbone
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.n_estimators = n_estimators
        self.score_type = score_type
        self.code_weight = code_weight
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.contamination = contamination
        self.backbone_kwargs = backbone_kwargs
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Trains the ensemble on ``X`` (y is ignored) and sets ``threshold_``."""
        X = self._validate(X, reset=True)
        self._check_params()
        seed = self._seed()
        members, epochs = [], []
        for k in range(int(self.n_estimators)):
            autoencoder, n_epochs = self._fit_member(X, k, seed + k)
            members.append(AnomalyScorer(autoencoder, score_type=self.score_type,
                                         code_weight=self.code_weight))
            members[-1].fit_statistics(X)
            epochs.append(n_epochs)
        self.n_epochs_ = epochs
        self.model_ = AnomalyEnsemble(members)
        scores = self.model_.score_numpy(X)
        self.threshold_ = float(np.quantile(scores, 1.0 - self.contamination))
        self.model_.threshold.assign(self.threshold_)
        self.offset_ = -self.threshold_
        return self

    def _fit_member(self, X, k, seed):
        """Member ``k``'s autoencoder trained on ``X``, and its number of epochs."""
        keras.utils.set_random_seed(seed)
        n, d = X.shape
        autoencoder = self._build(d, k, seed)
        autoencoder.compile(optimizer=keras.optimizers.Adam(self.learning_rate))
        order = np.random.default_rng(seed).permutation(n)
        held = int(round(self.validation_fraction * n)) if n >= 20 else 0
        train, validation = X[order[held:]], X[order[:held]]
        if autoencoder.scaler is not None:
            autoencoder.adapt(train)
        batch = self.batch_size if self.batch_size != "auto" else int(np.clip(n // 8, 64, 1024))
        history = fit_arrays(autoencoder, train, validation if held else None,
                             epochs=self.epochs, batch_size=batch, patience=self.patience,
                             seed=seed, verbose=self.verbose)
        return autoencoder, len(history["loss"])

    def _build(self, features, k, seed):
        from aezoo.models import VARIANTS

        if self.backbone not in VARIANTS:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of "
                             f"{sorted(VARIANTS)}")
        width, code, activation = MEMBER_SHAPES[k % len(MEMBER_SHAPES)]
        hidden = ((max(4, int(features * width)),) if self.hidden_dims == "auto"
                  else tuple(self.hidden_dims))
        latent = (int(np.clip(int(features * code), 2, 32)) if self.latent_dim == "auto"
                  else int(self.latent_dim))
        kwargs = {"input_scaling": self.scaling, "seed": seed}
        if self.backbone == "vae":
            kwargs.update(likelihood="gaussian", activation=activation)
        elif self.backbone != "linear":
            kwargs.update(reconstruction_loss="squared_error", output_activation="linear",
                          activation=activation)
        kwargs.update(self.backbone_kwargs or {})
        return VARIANTS[self.backbone](features, hidden, latent, **kwargs)

    def _check_params(self):
        if self.score_type not in SCORES:
            raise ValueError(f"score_type must be one of {SCORES}, got {self.score_type!r}")
        if isinstance(self.n_estimators, bool) or int(self.n_estimators) != self.n_estimators \
                or self.n_estimators < 1:
            raise ValueError(f"n_estimators must be a positive integer, got {self.n_estimators!r}")
        if not 0 < float(self.contamination) <= 0.5:
            raise ValueError(f"contamination must be in (0, 0.5], got {self.contamination!r}")
        if not 0 <= float(self.validation_fraction) < 1:
            raise ValueError("validation_fraction must be in [0, 1), got "
                             f"{self.validation_fraction!r}")

    def _seed(self):
        from sklearn.utils import check_random_state

        if isinstance(self.random_state, (int, np.integer)):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(0, 2**31 - 1))

    def _validate(self, X, reset=False):
        from sklearn.utils.validation import check_is_fitted, validate_data

        if not reset:
            check_is_fitted(self, "model_")
        return validate_data(self, X, reset=reset, dtype=np.float32, ensure_min_samples=2
                             if reset else 1).astype(np.float32, copy=False)

    # ----------------------------------------------------------------- scoring
    def anomaly_score(self, X):
        """Per-row anomaly score: higher is more anomalous (above ``threshold_``: an anomaly)."""
        X = self._validate(X)  # first: it raises NotFittedError before model_ is looked up
        return self.model_.score_numpy(X).astype(np.float64)

    def score_samples(self, X):
        """The opposite of ``anomaly_score`` (scikit-learn: the lower, the more abnormal)."""
        return -self.anomaly_score(X)

    def decision_function(self, X):
        """``score_samples - offset_``: negative for anomalies."""
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """-1 for anomalies, 1 for normal rows."""
        return np.where(self.decision_function(X) < 0, -1, 1)

    # -------------------------------------------------------------- persisting
    def save(self, path):
        """Writes the fitted detector (model, statistics, threshold, parameters) to a .keras file."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "model_")
        self.model_.detector_params = self.get_params()
        self.model_.save(path)

    @classmethod
    def load(cls, path):
        """The detector saved by ``save``."""
        import aezoo.models  # noqa: F401  (registers the backbones)

        model = keras.saving.load_model(path, compile=False)
        if not isinstance(model, AnomalyEnsemble):
            raise TypeError(f"{path} holds a {type(model).__name__}, not an aezoo detector")
        return cls.from_model(model)

    @classmethod
    def from_model(cls, model):
        """The detector around a loaded ``AnomalyEnsemble``."""
        params = dict(model.detector_params or {})
        detector = cls(**params)
        detector.model_ = model
        detector.threshold_ = float(model.threshold.numpy())
        detector.offset_ = -detector.threshold_
        detector.n_features_in_ = model.input_dim
        return detector

    def export(self, base_dir, name, version=1, **kwargs):
        """A SavedModel with ``anomaly_score`` and ``is_anomaly`` signatures (saved threshold)."""
        from aezoo.export import export_functions

        return export_functions(self.model_, self.model_.serving_functions(), base_dir, name,
                                version, **kwargs)


@keras.saving.register_keras_serializable(package="aezoo")
class AnomalyEnsemble(keras.Model):
    """The detector's members and threshold, in one saveable Keras model.

    Its score is the mean of the members' scores (each already divided by
    its training medians, so the members count alike).
    """

    def __init__(self, members, detector_params=None, **kwargs):
        super().__init__(**kwargs)
        if not members:
            raise ValueError("an AnomalyEnsemble needs at least one member")
        self.members = list(members)
        self.input_dim = self.members[0].autoencoder.input_dim
        if any(m.autoencoder.input_dim != self.input_dim for m in self.members):
            raise ValueError("the members of an AnomalyEnsemble must take the same features")
        self.detector_params = detector_params
        self.threshold = self.add_weight(shape=(), initializer="zeros", name="threshold",
                                         trainable=False)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "detector_params": self.detector_params,
                "members": [keras.saving.serialize_keras_object(m) for m in self.members]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(m) for m in config.pop("members")]
        return cls(members, **config)

    def call(self, x):
        scores = [member(x) for member in self.members]
        return scores[0] if len(scores) == 1 else keras.ops.mean(keras.ops.stack(scores), axis=0)

    def score_numpy(self, x, batch_size=256):
        """Scores in chunks of exactly ``batch_size`` rows, the last one zero-padded.

        A float32 kernel may sum in a different order for a different batch
        shape; with one shape for every call, a row's score is the same
        whether it is scored alone or among others (scikit-learn checks this).
        """
        scores = []
        for i in range(0, len(x), batch_size):
            chunk = x[i:i + batch_size]
            padded = np.zeros((batch_size,) + chunk.shape[1:], chunk.dtype)
            padded[:len(chunk)] = chunk
            scores.append(np.asarray(self(padded))[:len(chunk)])
        return np.concatenate(scores) if scores else np.zeros((0,), np.float32)

    def serving_functions(self):
        import tensorflow as tf

        spec = [tf.TensorSpec([None, self.input_dim], tf.float32, name="x")]

        def anomaly_score(x):
            x = tf.ensure_shape(x, spec[0].shape)
            return {"score": self(x)}

        def is_anomaly(x):
            score = self(tf.ensure_shape(x, spec[0].shape))
            return {"is_anomaly": score > self.threshold, "score": score}

        return {"anomaly_score": (anomaly_score, spec), "is_anomaly": (is_anomaly, spec)}


@keras.saving.register_keras_serializable(package="aezoo")
class AnomalyScorer(keras.Model):
    """One trained autoencoder and what its anomaly score needs.

    Non-trainable weights: the training codes' mean and precision matrix, and
    the training medians the two terms are divided by.
    """

    def __init__(self, autoencoder, score_type="combined", code_weight=0.5, **kwargs):
        super().__init__(**kwargs)
        if score_type not in SCORES:
            raise ValueError(f"score_type must be one of {SCORES}, got {score_type!r}")
        self.autoencoder = autoencoder
        self.score_type = score_type
        self.code_weight = float(code_weight)
        latent = autoencoder.latent_dim
        weight = dict(trainable=False)
        self.code_mean = self.add_weight(shape=(latent,), initializer="zeros", name="code_mean",
                                         **weight)
        self.code_precision = self.add_weight(shape=(latent, latent), initializer="identity",
                                              name="code_precision", **weight)
        self.error_scale = self.add_weight(shape=(), initializer="ones", name="error_scale",
                                           **weight)
        self.distance_scale = self.add_weight(shape=(), initializer="ones",
                                              name="distance_scale", **weight)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "score_type": self.score_type,
                "code_weight": self.code_weight,
                "autoencoder": keras.saving.serialize_keras_object(self.autoencoder)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        autoencoder = keras.saving.deserialize_keras_object(config.pop("autoencoder"))
        return cls(autoencoder, **config)

    # The two terms, in the graph (for call and the SavedModel) -------------
    def terms(self, x):
        error = self.autoencoder.reconstruction_error(x)
        centred = self.autoencoder.encode(x) - self.code_mean
        distance = keras.ops.sum(keras.ops.matmul(centred, self.code_precision) * centred,
                                 axis=-1)
        return error, distance

    def call(self, x):
        error, distance = self.terms(x)
        score = error / self.error_scale
        if self.score_type == "combined":
            score = score + self.code_weight * distance / self.distance_scale
        return score

    def fit_statistics(self, x, batch_size=4096):
        """The code Gaussian and the two training medians, from the training rows ``x``."""
        codes, errors = [], []
        for i in range(0, len(x), batch_size):  # one pass over the rows
            codes.append(np.asarray(self.autoencoder.encode(x[i:i + batch_size]), np.float64))
            errors.append(np.asarray(self.autoencoder.reconstruction_error(x[i:i + batch_size])))
        codes = np.concatenate(codes)
        mean = codes.mean(axis=0)
        covariance = np.atleast_2d(np.cov(codes, rowvar=False))
        # A little ridge keeps a collapsed code dimension from exploding the distance.
        covariance += 1e-6 * max(1.0, float(np.trace(covariance)) / len(mean)) * np.eye(len(mean))
        precision = np.linalg.inv(covariance)
        self.code_mean.assign(mean.astype("float32"))
        self.code_precision.assign(precision.astype("float32"))
        centred = codes - mean
        distances = np.einsum("ij,jk,ik->i", centred, precision, centred)
        self.error_scale.assign(max(float(np.median(np.concatenate(errors))), 1e-12))
        self.distance_scale.assign(max(float(np.median(distances)), 1e-12))
