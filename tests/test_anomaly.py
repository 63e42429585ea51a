"""aezoo.anomaly.AutoencoderDetector: the scikit-learn contract, thresholds, persistence, data."""

import os

import numpy as np
import pytest
import tensorflow as tf
from sklearn.base import clone

from aezoo.anomaly import AutoencoderDetector

ODDS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), "shared", "data", "odds")
RNG = np.random.default_rng(0)
# Normal rows near a 3-d subspace of 12 features, anomalies off it.
BASIS = RNG.normal(size=(3, 12))
NORMAL = (RNG.normal(size=(400, 3)) @ BASIS + 0.05 * RNG.normal(size=(400, 12))).astype("float32")
OUTLIERS = (RNG.normal(size=(20, 12)) * 2).astype("float32")
X = np.concatenate([NORMAL, OUTLIERS])
IS_ANOMALY = np.r_[np.zeros(400, bool), np.ones(20, bool)]
QUICK = dict(epochs=15, random_state=0)


@pytest.fixture(scope="module")
def fitted():
    return AutoencoderDetector(contamination=0.05, **QUICK).fit(X)


def test_scores_rank_the_anomalies_and_threshold_follows_contamination(fitted):
    from sklearn.metrics import roc_auc_score

    scores = fitted.anomaly_score(X)
    assert roc_auc_score(IS_ANOMALY, scores) > 0.95
    flagged = fitted.predict(X) == -1
    assert abs(flagged.mean() - 0.05) <= 0.01  # contamination of the training rows
    assert np.array_equal(flagged, scores > fitted.threshold_)
    np.testing.assert_allclose(fitted.score_samples(X), -scores)
    np.testing.assert_allclose(fitted.decision_function(X), -scores + fitted.threshold_,
                               rtol=1e-6)
    assert set(np.unique(fitted.predict(X))) == {-1, 1}
    assert fitted.n_features_in_ == 12 and len(fitted.n_epochs_) == 3 and min(fitted.n_epochs_) >= 1


def test_combined_score_catches_rows_far_along_the_manifold(fitted):
    """Rows on the subspace but far out: reconstructed well, caught by the code distance."""
    from sklearn.metrics import roc_auc_score

    far = (RNG.normal(size=(20, 3)) * 6 @ BASIS).astype("float32")
    member = fitted.model_.members[0]
    _, distance = member.terms(far)
    _, normal_distance = member.terms(NORMAL)
    assert np.median(distance) > np.quantile(normal_distance, 0.95)
    rec = AutoencoderDetector(score_type="reconstruction", contamination=0.05, **QUICK).fit(X)
    rows, truth = np.concatenate([NORMAL, far]), np.r_[np.zeros(400), np.ones(20)]
    assert roc_auc_score(truth, fitted.anomaly_score(rows)) > roc_auc_score(
        truth, rec.anomaly_score(rows))


def test_a_rows_score_does_not_depend_on_the_rows_scored_with_it(fitted):
    """Exactly equal, alone or among 420 rows (two chunks, the last one padded)."""
    together = fitted.anomaly_score(X)
    alone = np.array([fitted.anomaly_score(X[i:i + 1])[0] for i in range(0, len(X), 7)])
    assert np.array_equal(alone, together[::7])
    assert np.array_equal(fitted.anomaly_score(X[::-1]), together[::-1])


def test_seeded_fits_repeat():
    a = AutoencoderDetector(**QUICK).fit(X).anomaly_score(X[:50])
    b = AutoencoderDetector(**QUICK).fit(X).anomaly_score(X[:50])
    np.testing.assert_array_equal(a, b)


def test_estimator_api_clone_pipeline_and_grid_search():
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    detector = AutoencoderDetector(latent_dim=2, **QUICK)
    assert clone(detector).get_params() == detector.get_params()
    assert detector.set_params(latent_dim=3).latent_dim == 3
    pipeline = make_pipeline(StandardScaler(), AutoencoderDetector(scaling=None, **QUICK))
    assert pipeline.fit(X).predict(X).shape == (420,)

    def auroc(estimator, x, y):
        from sklearn.metrics import roc_auc_score

        return roc_auc_score(y, estimator.anomaly_score(x))

    search = GridSearchCV(AutoencoderDetector(epochs=5, random_state=0),
                          {"latent_dim": [2, 3]}, scoring=auroc,
                          cv=StratifiedKFold(2, shuffle=True, random_state=0))
    search.fit(X, IS_ANOMALY)
    assert search.best_params_["latent_dim"] in (2, 3)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.8


def test_save_load_and_export_give_identical_scores(fitted, tmp_path):
    path = tmp_path / "detector.keras"
    fitted.save(path)
    loaded = AutoencoderDetector.load(path)
    np.testing.assert_array_equal(loaded.anomaly_score(X), fitted.anomaly_score(X))
    assert loaded.threshold_ == fitted.threshold_ and loaded.contamination == 0.05
    np.testing.assert_array_equal(loaded.predict(X), fitted.predict(X))
    version = fitted.export(str(tmp_path / "serving"), "detector")
    signatures = tf.saved_model.load(version).signatures
    out = signatures["is_anomaly"](x=tf.constant(X))
    np.testing.assert_allclose(out["score"].numpy(), fitted.anomaly_score(X), rtol=1e-5,
                               atol=1e-5)
    assert np.array_equal(out["is_anomaly"].numpy(), fitted.predict(X) == -1)
    np.testing.assert_allclose(signatures["anomaly_score"](x=tf.constant(X[:5]))["score"],
                               fitted.anomaly_score(X[:5]), rtol=1e-5, atol=1e-5)


def test_bad_input_and_parameters(fitted):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        AutoencoderDetector().anomaly_score(X)
    with pytest.raises(ValueError, match="12 features"):
        fitted.predict(X[:, :5])
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.anomaly_score(bad)
    with pytest.raises(ValueError, match="NaN"):
        AutoencoderDetector(**QUICK).fit(bad)
    with pytest.raises(ValueError, match="contamination"):
        AutoencoderDetector(contamination=0.7).fit(X)
    with pytest.raises(ValueError, match="unknown backbone"):
        AutoencoderDetector(backbone="transformer").fit(X)


@pytest.mark.parametrize("backbone", ["denoising", "vae"])
def test_other_backbones(backbone):
    from sklearn.metrics import roc_auc_score

    detector = AutoencoderDetector(backbone=backbone, **QUICK).fit(X)
    assert roc_auc_score(IS_ANOMALY, detector.anomaly_score(X)) > 0.8


def test_score_command_uses_a_detector_file(fitted, tmp_path, capsys):
    from aezoo.cli import main

    path = tmp_path / "detector.keras"
    fitted.save(path)
    np.savez(tmp_path / "rows.npz", x=X, y=IS_ANOMALY.astype(int))
    assert main(["score", str(path), "--data", str(tmp_path / "rows.npz"),
                 "--out", str(tmp_path / "s.npy")]) == 0
    printed = capsys.readouterr().out
    assert "AUROC" in printed and "above the detector's threshold" in printed
    np.testing.assert_allclose(np.load(tmp_path / "s.npy"), fitted.anomaly_score(X), rtol=1e-5)


@pytest.mark.skipif(not os.path.isfile(os.path.join(ODDS, "cardio.mat")),
                    reason="the ODDS tables are not beside the checkout (../shared/data/odds)")
def test_beats_a_random_score_on_a_real_table():
    import scipy.io
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    table = scipy.io.loadmat(os.path.join(ODDS, "cardio.mat"))
    x, y = table["X"], table["y"].ravel()
    x_train, x_test, _, y_test = train_test_split(x, y, test_size=0.4, random_state=1)
    scores = AutoencoderDetector(random_state=1).fit(x_train).anomaly_score(x_test)
    assert roc_auc_score(y_test, scores) > 0.8  # random: 0.5


def test_scikit_learn_estimator_checks():
    import warnings

    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # One member, one epoch: the checks fit dozens of times and each fit's cost
        # is mostly tracing; the ensemble and early stopping are tested above.
        results = check_estimator(AutoencoderDetector(epochs=1, n_estimators=1, random_state=0),
                                  on_fail=None)
    failed = [(r["check_name"], str(r["exception"])[:200]) for r in results
              if r["status"] == "failed"]
    assert failed == [] and len(results) > 40
