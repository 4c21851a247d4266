#!/usr/bin/env python3
"""Writes tests/fixtures/clv/ with the real lifetimes 0.11.3 and mpmath.

    bash tests/parity/make_fixtures.sh     # builds segsql, makes a venv, runs this too

Data sets: lifetimes' own CDNOW summaries (weeks), the built-in sample's rfm_summary by
week as lifetimes computes it (tests/fixtures/rfm_summary_sample_week.csv), and draws from
lifetimes' own generators. For each: the fitted parameters, standard errors and
log-likelihood of BG/NBD, MBG/NBD and Gamma-Gamma, and per-customer predictions. mpmath
gives 40-digit references for the hypergeometric function and for the predictions lifetimes
returns NaN for.
"""

import os
import shutil

import mpmath as mp
import numpy as np
import pandas as pd
import lifetimes
from lifetimes import BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from lifetimes.generate_data import beta_geometric_nbd_model, modified_beta_geometric_nbd_model, pareto_nbd_model
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "clv")
DATASETS = os.path.join(os.path.dirname(lifetimes.__file__), "datasets")
mp.mp.dps = 40


def write(frame, name):
    path = os.path.join(OUT, name)
    frame.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
    print(f"wrote {path} ({len(frame)} rows)")


def histories():
    """name -> DataFrame(frequency, recency, T[, monetary_value])."""
    sets = {}
    cdnow = pd.read_csv(os.path.join(DATASETS, "cdnow_customers_summary_with_transactions.csv"))
    sets["cdnow"] = pd.DataFrame(
        {"frequency": cdnow.x, "recency": cdnow.t_x, "T": cdnow["T"], "monetary_value": cdnow.zbar}
    )
    sample = pd.read_csv(os.path.join(HERE, "..", "fixtures", "rfm_summary_sample_week.csv"))
    sets["sample_week"] = sample[["frequency", "recency", "T", "monetary_value"]].astype(float)
    np.random.seed(20261202)
    bg = beta_geometric_nbd_model(52, 0.24, 4.41, 0.79, 2.43, size=4000)
    sets["generated_bg"] = bg[["frequency", "recency", "T"]].astype(float)
    np.random.seed(20261203)
    mbg = modified_beta_geometric_nbd_model(52, 0.5, 6.0, 0.6, 3.0, size=4000)
    sets["generated_mbg"] = mbg[["frequency", "recency", "T"]].astype(float)
    return sets


def main():
    os.makedirs(OUT, exist_ok=True)
    sets = histories()
    for name, frame in sets.items():
        write(frame, f"{name}.csv")

    params, predictions = [], []
    fits = [
        ("bgnbd", BetaGeoFitter, 0.0),
        ("bgnbd", BetaGeoFitter, 0.01),
        ("mbgnbd", ModifiedBetaGeoFitter, 0.0),
        ("mbgnbd", ModifiedBetaGeoFitter, 0.01),
    ]
    for name, frame in sets.items():
        for kind, fitter, penalizer in fits:
            model = fitter(penalizer_coef=penalizer)
            model.fit(frame["frequency"], frame["recency"], frame["T"])
            # The paper's log-likelihood: the sum, in the data's own time unit.
            ll = -model._negative_log_likelihood_ * len(frame) - frame["frequency"].sum() * np.log(frame["T"].max())
            if penalizer > 0:
                ll = float("nan")
            for p in model.params_.index:
                params.append((name, kind, penalizer, p, model.params_[p], model.standard_errors_[p], ll))
            if penalizer > 0:
                continue
            head = frame.iloc[:60]
            alive = model.conditional_probability_alive(head["frequency"], head["recency"], head["T"])
            expected = model.conditional_expected_number_of_purchases_up_to_time(
                10.0, head["frequency"], head["recency"], head["T"]
            )
            for i, (_, row) in enumerate(head.iterrows()):
                predictions.append(
                    (name, kind, i, row.frequency, row.recency, row["T"], 10.0, np.asarray(alive)[i], np.asarray(expected)[i], np.nan)
                )
        if "monetary_value" in frame:
            spend = frame[(frame.frequency > 0) & (frame.monetary_value > 0)]
            gg = GammaGammaFitter(penalizer_coef=0.0)
            gg.fit(spend["frequency"], spend["monetary_value"])
            ll = -gg._negative_log_likelihood_ * len(spend)
            for p in gg.params_.index:
                params.append((name, "gamma_gamma", 0.0, p, gg.params_[p], gg.standard_errors_[p], ll))
            bg = BetaGeoFitter().fit(frame["frequency"], frame["recency"], frame["T"])
            head = frame.iloc[:60]
            value = gg.conditional_expected_average_profit(head["frequency"], head["monetary_value"])
            clv = gg.customer_lifetime_value(
                bg, head["frequency"], head["recency"], head["T"], head["monetary_value"],
                time=12, discount_rate=0.01, freq="W",
            )
            for i, (_, row) in enumerate(head.iterrows()):
                predictions.append(
                    (name, "gamma_gamma", i, row.frequency, row.recency, row["T"], row.monetary_value,
                     np.asarray(value)[i], np.asarray(clv)[i], np.nan)
                )
    write(pd.DataFrame(params, columns=["dataset", "model", "penalizer", "parameter", "value", "std_error", "log_likelihood"]), "params.csv")
    write(
        pd.DataFrame(
            predictions,
            columns=["dataset", "model", "row", "frequency", "recency", "T", "t_or_value", "first", "second", "unused"],
        ).drop(columns="unused"),
        "predictions.csv",
    )
    write(references(), "mpmath.csv")
    write(holdout_check(), "evaluate.csv")
    logistic()


def logistic():
    """scikit-learn's LogisticRegression (lbfgs, C = 1/l2) on seeded data with a discrete
    feature (so probabilities tie), its coefficients, and its metrics on a holdout."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score, log_loss, precision_score, recall_score, roc_auc_score
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(20261204)
    n = 4000
    frame = pd.DataFrame({
        "recency": rng.exponential(60.0, n).round(1),
        "frequency": rng.poisson(3.0, n).astype(float),
        "monetary": rng.gamma(2.0, 40.0, n).round(2),
        "tenure": rng.integers(1, 5, n).astype(float),
    })
    z = -1.0 + 0.02 * frame.recency - 0.4 * frame.frequency - 0.004 * frame.monetary + 0.3 * frame.tenure
    frame["churned"] = rng.random(n) < 1 / (1 + np.exp(-z))
    frame["part"] = np.where(np.arange(n) < 3000, "train", "test")
    write(frame, "logistic_data.csv")
    features = ["recency", "frequency", "monetary", "tenure"]
    train, test = frame[frame.part == "train"], frame[frame.part == "test"]
    coefficients, metrics = [], []
    for l2, standardize in [(1.0, "none"), (0.01, "none"), (10.0, "zscore")]:
        x_train, x_test = train[features].to_numpy(), test[features].to_numpy()
        if standardize == "zscore":
            scaler = StandardScaler().fit(x_train)
            x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
        model = LogisticRegression(C=1 / l2, tol=1e-12, max_iter=100000).fit(x_train, train.churned)
        coefficients.append((l2, standardize, "intercept", model.intercept_[0]))
        for name, value in zip(features, model.coef_[0]):
            coefficients.append((l2, standardize, name, value))
        p = model.predict_proba(x_test)[:, 1]
        y = test.churned.to_numpy()
        predicted = p > 0.5
        metrics.append((
            l2, standardize, len(y), roc_auc_score(y, p), log_loss(y, p), accuracy_score(y, predicted),
            precision_score(y, predicted), recall_score(y, predicted), f1_score(y, predicted),
        ))
        if standardize == "none" and l2 == 1.0:
            # Probabilities rounded to 2 places tie often: roc_auc's tie handling, checked.
            rounded = np.round(p, 2)
            write(pd.DataFrame({"probability": rounded, "label": y}), "logistic_scores_rounded.csv")
            r = rounded > 0.5
            metrics.append((
                l2, "rounded", len(y), roc_auc_score(y, rounded), log_loss(y, rounded), accuracy_score(y, r),
                precision_score(y, r), recall_score(y, r), f1_score(y, r),
            ))
    write(pd.DataFrame(coefficients, columns=["l2", "standardize", "parameter", "value"]), "logistic_params.csv")
    write(
        pd.DataFrame(metrics, columns=["l2", "standardize", "rows", "roc_auc", "log_loss", "accuracy", "precision", "recall", "f1_score"]),
        "logistic_metrics.csv",
    )


def holdout_check():
    """BG/NBD and MBG/NBD fitted on the calibration columns of lifetimes' own split of the
    sample (tests/fixtures/calibration_sample_week.csv), predicting the holdout."""
    split = pd.read_csv(os.path.join(HERE, "..", "fixtures", "calibration_sample_week.csv"))
    rows = []
    for kind, fitter in [("bgnbd", BetaGeoFitter), ("mbgnbd", ModifiedBetaGeoFitter)]:
        model = fitter().fit(split.frequency_cal, split.recency_cal, split.T_cal)
        predicted = model.conditional_expected_number_of_purchases_up_to_time(
            split.duration_holdout, split.frequency_cal, split.recency_cal, split.T_cal
        )
        error = predicted - split.frequency_holdout
        rows.append((kind, len(split), split.frequency_holdout.sum(), predicted.sum(), error.abs().mean(), np.sqrt((error ** 2).mean())))
    return pd.DataFrame(rows, columns=["model", "customers", "actual_purchases", "predicted_purchases", "mae", "rmse"])


def bg_expected(r, alpha, a, b, t, x, tx, T, modified=False):
    r, alpha, a, b, t, x, tx, T = map(mp.mpf, (r, alpha, a, b, t, x, tx, T))
    if modified:
        hyp = mp.hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        first = (a + b + x) / (a - 1)
        denom = 1 + a / (b + x) * ((alpha + T) / (alpha + tx)) ** (r + x)
    else:
        hyp = mp.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        first = (a + b + x - 1) / (a - 1)
        denom = 1 + (a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else 0)
    return first * (1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x)) / denom


def references():
    rows = []
    for a, b, c, z in [
        (0.11, 0.5, -0.19, 30 / 33.24),
        (400.24, 402.43, 401.22, 10 / 53.41),
        (2.5, 7.25, 1.5, 0.95),
        (0.75, 1.25, 3.5, 0.999),
        (12.0, 3.5, 20.25, 0.5),
        (1.5, 2.5, 4.0, 0.0),
        (30.24, 32.43, 31.22, 360 / 405.0),
    ]:
        rows.append(("hyp2f1", a, b, c, z, np.nan, np.nan, np.nan, np.nan, float(mp.hyp2f1(a, b, c, z))))
    cdnow = (0.242594, 4.413603, 0.792934, 2.425887)
    for params, (t, x, tx, T) in [
        ((0.11, 2.24, 0.31, 0.50), (30, 0, 0, 1)),  # a + b < 1: lifetimes gives NaN
        (cdnow, (10, 400, 38, 39)),
        (cdnow, (10, 2000, 38, 39)),
        (cdnow, (360, 3, 5, 6)),
        (cdnow, (10, 0, 0, 39)),
    ]:
        rows.append(("bgnbd_expected", *params, t, x, tx, T, float(bg_expected(*params, t, x, tx, T))))
        rows.append(("mbgnbd_expected", *params, t, x, tx, T, float(bg_expected(*params, t, x, tx, T, modified=True))))
    frame = pd.DataFrame(rows, columns=["what", "p1", "p2", "p3", "p4", "t", "x", "tx", "T", "value"])
    return frame


def pareto():
    """ParetoNBDFitter (Nelder–Mead from seeded random starts, its default tol 1e-4) on
    the CDNOW, sample and generated data; then the true optimum of the same objective
    (lifetimes' own `_negative_log_likelihood` on its scaled data), found by restarting
    Nelder–Mead on log-parameters from lifetimes' answer with tight tolerances until it
    stops moving; predictions at that optimum; and 40-digit mpmath values where lifetimes
    returns NaN."""
    sets = {name: frame for name, frame in histories().items() if name in ("cdnow", "sample_week")}
    np.random.seed(20261205)
    generated = pareto_nbd_model(52, 0.55, 10.6, 0.61, 11.7, size=4000)
    sets["generated_pareto"] = generated[["frequency", "recency", "T"]].astype(float)
    write(sets["generated_pareto"], "generated_pareto.csv")
    params, predictions = [], []
    for name, frame in sets.items():
        for penalizer in (0.0, 0.1):
            np.random.seed(20261206)
            model = ParetoNBDFitter(penalizer_coef=penalizer).fit(frame["frequency"], frame["recency"], frame["T"])
            scale = model._scale
            f, rec, age = frame["frequency"].to_numpy().astype(int), frame["recency"].to_numpy() * scale, frame["T"].to_numpy() * scale
            weights = np.ones(len(frame), dtype=np.int64)
            nll = lambda theta: ParetoNBDFitter._negative_log_likelihood(theta, f, rec, age, weights, penalizer)
            start = np.array([model.params_.r, model.params_.alpha * scale, model.params_.s, model.params_.beta * scale])
            lifetimes_objective = nll(start)
            phi, best = np.log(start), lifetimes_objective
            for restart in range(12):
                result = minimize(lambda p: nll(np.exp(p)), phi, method="Nelder-Mead",
                                  options={"xatol": 1e-11, "fatol": 1e-11, "maxiter": 4000})
                gain = best - result.fun
                phi, best = result.x, min(best, result.fun)
                print(f"  {name} penalizer {penalizer}: restart {restart}, objective {best:.15g}, gain {gain:.3g}", flush=True)
                if gain < 1e-10:
                    break
            optimum = np.exp(phi)
            # lifetimes gives no standard errors for Pareto/NBD: these are its BG/NBD recipe,
            # the delta method on the inverse Hessian in log-parameters, the Hessian by
            # central differences of the objective (which is a sum, so no division by N).
            h, hessian = 1e-4, np.zeros((4, 4))
            for i in range(4):
                for j in range(4):
                    def shifted(di, dj):
                        p = phi.copy()
                        p[i] += di
                        p[j] += dj
                        return nll(np.exp(p))
                    hessian[i, j] = (shifted(h, h) - shifted(h, -h) - shifted(-h, h) + shifted(-h, -h)) / (4 * h * h)
            std_error = optimum * np.sqrt(np.diag(np.linalg.inv(hessian)))
            optimum[1] /= scale
            optimum[3] /= scale
            std_error[1] /= scale
            std_error[3] /= scale
            # The paper's log-likelihood of the optimum, in the data's own unit (unpenalised).
            ll = -nll(np.exp(phi)) + penalizer * np.sum(np.exp(phi) ** 2) - frame["frequency"].sum() * np.log(frame["T"].max())
            for i, p in enumerate(["r", "alpha", "s", "beta"]):
                params.append((name, penalizer, p, model.params_[p], optimum[i], std_error[i], lifetimes_objective, best, ll))
            if penalizer > 0:
                continue
            fitted = ParetoNBDFitter()
            fitted.params_ = pd.Series(optimum, index=["r", "alpha", "s", "beta"])
            head = frame.iloc[:60]
            alive = fitted.conditional_probability_alive(head["frequency"].to_numpy(), head["recency"].to_numpy(), head["T"].to_numpy())
            expected = fitted.conditional_expected_number_of_purchases_up_to_time(
                10.0, head["frequency"].to_numpy(), head["recency"].to_numpy(), head["T"].to_numpy()
            )
            for i, (_, row) in enumerate(head.iterrows()):
                predictions.append((name, i, row.frequency, row.recency, row["T"], 10.0, alive[i], expected[i]))
    write(pd.DataFrame(params, columns=["dataset", "penalizer", "parameter", "lifetimes", "optimum", "std_error",
                                        "lifetimes_objective", "optimum_objective", "log_likelihood"]), "pareto_params.csv")
    write(pd.DataFrame(predictions, columns=["dataset", "row", "frequency", "recency", "T", "t", "p_alive", "expected"]),
          "pareto_predictions.csv")
    write(pareto_references(), "pareto_mpmath.csv")


def pareto_exact(r, alpha, s, beta, t, x, tx, T):
    """P(alive), E[Y(t)] and the log-likelihood of one history, in 40 digits."""
    r, alpha, s, beta, t, x, tx, T = map(mp.mpf, (r, alpha, s, beta, t, x, tx, T))
    rho = r + s + x
    if alpha >= beta:
        m, other, b = alpha, beta, s + 1
    else:
        m, other, b = beta, alpha, r + x
    term = lambda u: mp.hyp2f1(rho, b, rho + 1, (m - other) / (m + u)) / (m + u) ** rho
    a0 = term(tx) - term(T)
    alive = 1 / (1 + s / rho * (alpha + T) ** (r + x) * (beta + T) ** s * a0)
    if s == 1:
        growth = mp.log((beta + T + t) / (beta + T))
    else:
        growth = (1 - ((beta + T) / (beta + T + t)) ** (s - 1)) / (s - 1)
    expected = alive * (r + x) * (beta + T) / (alpha + T) * growth
    ll = (mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
          + mp.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s / rho * a0))
    return alive, expected, ll


def pareto_references():
    """what = pareto: P(alive), E[Y(t)] and ll of one history at (r, α, s, β) = p1..p4;
    what = hyp2f1_gradient: ln ₂F₁(a, b; c; z) at (a, b, c, z) = p1..p4, then its
    derivatives in a, b, c and z (mpmath's numerical differentiation at 40 digits)."""
    rows = []
    cdnow = (0.5534, 10.5802, 0.6061, 11.6562)
    for params, (t, x, tx, T) in [
        (cdnow, (10, 132, 200, 200)),      # last purchase at T: lifetimes gives NaN
        (cdnow, (10, 400, 199, 200)),
        ((0.5534, 10.5802, 1.0, 11.6562), (10, 3, 20, 39)),  # s = 1: lifetimes gives NaN
        (cdnow, (10, 0, 0, 39)),
        (cdnow, (39, 2, 30.43, 38.86)),
        ((0.55, 25.0, 0.61, 3.0), (20, 5, 12, 39)),   # α > β
        ((2.5, 4.0, 1.8, 30.0), (20, 12, 35, 39)),    # α < β, r + x > 1
        ((0.3, 4.0, 0.4, 30.0), (20, 0, 0, 39)),      # α < β, r + x < 1
    ]:
        alive, expected, ll = pareto_exact(*params, t, x, tx, T)
        rows.append(("pareto", *params, t, x, tx, T, float(alive), float(expected), float(ll), np.nan, np.nan))
    for a, b, c, z in [(3.6, 1.6, 4.6, 0.08), (12.2, 2.5, 13.2, 0.7), (0.8, 0.5, 1.8, 0.95)]:
        f = lambda a, b, c, z: mp.log(mp.hyp2f1(a, b, c, z))
        d = [mp.diff(lambda u: f(u, b, c, z), a), mp.diff(lambda u: f(a, u, c, z), b),
             mp.diff(lambda u: f(a, b, u, z), c), mp.diff(lambda u: f(a, b, c, u), z)]
        rows.append(("hyp2f1_gradient", a, b, c, z, np.nan, np.nan, np.nan, np.nan, float(f(a, b, c, z)), *[float(v) for v in d]))
    return pd.DataFrame(rows, columns=["what", "p1", "p2", "p3", "p4", "t", "x", "tx", "T", "v1", "v2", "v3", "v4", "v5"])


if __name__ == "__main__":
    import sys
    if sys.argv[1:] == ["pareto"]:
        pareto()
    else:
        main()
        pareto()
