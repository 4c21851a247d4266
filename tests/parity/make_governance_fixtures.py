#!/usr/bin/env python3
"""Writes the governance parity fixtures in tests/fixtures/governance/ with scikit-learn,
NumPy and Python's hmac/hashlib.

    bash tests/parity/make_fixtures.sh     # makes a venv, runs this too
    python tests/parity/make_governance_fixtures.py   # alone (needs scikit-learn, numpy)

Nothing here reads segsql's output; every input is generated with fixed seeds
(numpy default_rng) or written out by hand, and the references are computed from the
values read back from the input CSVs, so the Rust tests load exactly the same numbers.
Inputs use the shortest round-trip float text (repr), outputs "%.17g". All files are
written with the csv module (minimal quoting, "\\n" line ends, UTF-8).

  labels.csv            case,row,a,b: two labelings per case (row 1..n within the case).
  labels_expected.csv   case,kind,rows,adjusted_rand,mutual_info: kind is int or text (text
                        labels are strings, some of them non-ASCII or needing CSV quotes);
                        adjusted_rand = sklearn.metrics.adjusted_rand_score(a, b),
                        mutual_info = sklearn.metrics.normalized_mutual_info_score(a, b)
                        (average_method='arithmetic'). Includes the degenerate cases (one
                        cluster, all singletons, a single row).
  hmac.csv              key,kind,value,expected: hex HMAC-SHA256 of value's UTF-8 bytes under
                        key's UTF-8 bytes; kind=int values are hashed as their decimal text.
                        An empty value field with kind=text is the empty string.
  psi_bins.csv          case,bin,expected,actual: per-bin counts or shares (bin 1..k).
  psi_expected.csv      case,psi: e = expected/sum, a = actual/sum, both floored at 1e-4
                        (after normalising, no renormalising), psi = sum((a - e) * ln(a / e)).
  drift_previous.csv,   id,recency_days,frequency,monetary: two snapshots (3000 and 3500 rows,
  drift_current.csv     the current one shifted); about 1% of each column empty (NULL).
  drift_expected.csv    per feature and bin count: quantile edges of the previous non-null
                        values (np.quantile, linear), counts via searchsorted(side='right'),
                        PSI as above, non-null and null counts, means and quartiles.

CI never runs this; the Rust tests read the CSVs.
"""

import os

# One thread everywhere, as in make_cluster_fixtures.py (nothing here is parallel, but
# the rule keeps reruns byte-identical on any machine).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import csv  # noqa: E402
import hashlib  # noqa: E402
import hmac  # noqa: E402
from collections import OrderedDict  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402
from sklearn.metrics.cluster import pair_confusion_matrix  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "governance")

PSI_FLOOR = 1e-4
LARGE_N = 5000  # rows of the "large" labels case
DRIFT_FEATURES = ["recency_days", "frequency", "monetary"]


def g17(x):
    return "%.17g" % float(x)


def path_of(name):
    return os.path.join(FIXTURES, name)


def write_rows(name, header, rows):
    with open(path_of(name), "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)
    print(f"wrote {path_of(name)} ({len(rows)} rows, {os.path.getsize(path_of(name))} bytes)")


def read_rows(name):
    with open(path_of(name), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- ARI / NMI


def with_every_label(rng, n, k):
    """n labels in 0..k-1, each value present at least once, in random order."""
    return rng.permutation(np.concatenate([np.arange(k), rng.integers(0, k, n - k)]))


def label_cases():
    """Ordered list of (case, kind, a, b); labels are Python ints or strs."""
    cases = []

    rng = np.random.default_rng(11)
    cases.append(("small_random", "int", with_every_label(rng, 20, 3), with_every_label(rng, 20, 4) + 1))

    rng = np.random.default_rng(12)
    cases.append(("medium_random", "int", with_every_label(rng, 2000, 5), with_every_label(rng, 2000, 7)))

    rng = np.random.default_rng(13)
    a = with_every_label(rng, 3000, 6)
    b = a.copy()
    moved = rng.choice(3000, 300, replace=False)  # 10% of the rows get a random label
    b[moved] = rng.integers(0, 6, 300)
    cases.append(("noisy_copy", "int", a, b))

    rng = np.random.default_rng(14)
    a = with_every_label(rng, 50, 4)
    relabel = np.array([30, 10, 40, 20])  # 0->30, 1->10, 2->40, 3->20
    cases.append(("permuted", "int", a, relabel[a]))

    rng = np.random.default_rng(15)
    names_a = ["Champions", "At Risk", "Loyal Customers", "Büro", "café", "顧客", 'Need "Attention"', "Hibernating, lost"]
    names_b = ["Champions", "At Risk", "Café", "café", "顧客-VIP", "Other"]
    ia = with_every_label(rng, 60, len(names_a))
    ib = np.where(rng.random(60) < 0.6, ia % len(names_b), rng.integers(0, len(names_b), 60))
    ib[: len(names_b)] = np.arange(len(names_b))  # every b name present
    cases.append(("text", "text", [names_a[i] for i in ia], [names_b[i] for i in ib]))

    rng = np.random.default_rng(16)
    cases.append(("a_singletons", "int", np.arange(1, 31), with_every_label(rng, 30, 3)))

    rng = np.random.default_rng(17)
    cases.append(("both_singletons", "int", np.arange(1, 26), rng.permutation(25) + 100))

    rng = np.random.default_rng(18)
    cases.append(("a_one_cluster", "int", np.full(40, 7), with_every_label(rng, 40, 4)))

    cases.append(("both_one_cluster", "int", np.full(15, 3), np.full(15, -2)))
    cases.append(("one_row", "int", np.array([5]), np.array([9])))
    cases.append(("two_rows", "int", np.array([1, 2]), np.array([8, 4])))
    cases.append(("two_rows_split_joined", "int", np.array([1, 2]), np.array([6, 6])))

    rng = np.random.default_rng(19)
    a = with_every_label(rng, 40, 4) - 3  # -3..0
    b = np.array([-5, -1, 7])[with_every_label(rng, 40, 3)]
    cases.append(("negative", "int", a, b))

    # The large case is about 320 KB of labels.csv on its own (the rest is about 100 KB).
    rng = np.random.default_rng(20)
    a = with_every_label(rng, LARGE_N, 8)
    b = np.where(rng.random(LARGE_N) < 0.5, (a + 3) % 8, rng.integers(0, 8, LARGE_N))
    cases.append(("large", "int", a, b))

    out = []
    for case, kind, a, b in cases:
        a = [str(x) if kind == "text" else int(x) for x in a]
        b = [str(x) if kind == "text" else int(x) for x in b]
        assert len(a) == len(b) >= 1, case
        out.append((case, kind, a, b))
    return out


def labels():
    cases = label_cases()
    rows = []
    for case, _kind, a, b in cases:
        rows.extend([case, i + 1, x, y] for i, (x, y) in enumerate(zip(a, b)))
    write_rows("labels.csv", ["case", "row", "a", "b"], rows)

    back = OrderedDict()
    for r in read_rows("labels.csv"):
        back.setdefault(r["case"], []).append(r)
    expected = []
    for case, kind, a, b in cases:
        got = back[case]
        assert [int(r["row"]) for r in got] == list(range(1, len(a) + 1)), case
        parse = str if kind == "text" else int
        ra = [parse(r["a"]) for r in got]
        rb = [parse(r["b"]) for r in got]
        assert ra == a and rb == b, case
        xa = np.array(ra) if kind == "text" else np.array(ra, dtype=np.int64)
        xb = np.array(rb) if kind == "text" else np.array(rb, dtype=np.int64)
        ari = adjusted_rand_score(xa, xb)
        nmi = normalized_mutual_info_score(xa, xb)
        expected.append([case, kind, len(ra), g17(ari), g17(nmi)])
        (tn, fp), (fn, tp) = pair_confusion_matrix(xa, xb)
        print(
            f"labels {case}: n={len(ra)} k_a={len(set(ra))} k_b={len(set(rb))} "
            f"pairs tn={tn} fp={fp} fn={fn} tp={tp}: ARI={ari!r} NMI={nmi!r}"
        )
    write_rows("labels_expected.csv", ["case", "kind", "rows", "adjusted_rand", "mutual_info"], expected)


# ---------------------------------------------------------------- HMAC-SHA256


def hmac_keys():
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    keys = [
        "segsql-key-16byt",
        "governance-key-40-bytes-" + alphabet[:16],
        "governance-key-64-bytes-" + alphabet[:40],
        "governance-key-100-bytes-" + (alphabet * 2)[:75],
        "clé-secrète-顧客-Schlüssel-🔑",
    ]
    sizes = [len(k.encode("utf-8")) for k in keys]
    assert sizes[:4] == [16, 40, 64, 100], sizes
    assert sizes[4] >= 16 and sizes[4] != len(keys[4]), sizes
    return keys


def hmac_values():
    ints = [0, 1, -1, 42, 9223372036854775807, -9223372036854775808, 1234567890123]
    long_text = ("The quick brown fox jumps over the lazy dog; " * 7)[:300]
    assert len(long_text) == 300
    texts = ["", "C000123", "customer@example.com", "Zoë Ünal", "顧客-7", 'Smith, John "JJ"', long_text]
    return [("int", str(v)) for v in ints] + [("text", v) for v in texts]


def hmacs():
    rows = []
    for key in hmac_keys():
        for kind, value in hmac_values():
            digest = hmac.new(key.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()
            rows.append([key, kind, value, digest])
    write_rows("hmac.csv", ["key", "kind", "value", "expected"], rows)
    back = read_rows("hmac.csv")
    assert [[r["key"], r["kind"], r["value"], r["expected"]] for r in back] == rows


# ---------------------------------------------------------------- PSI


def psi(expected, actual):
    e = np.asarray(expected, dtype=np.float64)
    a = np.asarray(actual, dtype=np.float64)
    e = e / e.sum()
    a = a / a.sum()
    e = np.maximum(e, PSI_FLOOR)
    a = np.maximum(a, PSI_FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_cases():
    rng = np.random.default_rng(31)
    small_e = rng.integers(0, 6, 20)
    small_a = rng.integers(0, 6, 20)
    return [
        ("counts_10", [120, 340, 560, 610, 480, 390, 250, 130, 70, 50], [100, 300, 520, 640, 530, 420, 280, 150, 60, 40]),
        ("shares_5", [0.1, 0.2, 0.4, 0.2, 0.1], [0.15, 0.25, 0.3, 0.2, 0.1]),
        ("zero_actual", [200, 300, 250, 150, 100], [220, 310, 0, 260, 210]),
        ("zero_expected", [200, 300, 0, 250, 250], [180, 290, 35, 245, 250]),
        ("zero_both", [400, 0, 350, 250], [390, 0, 330, 280]),
        ("identical", [37, 81, 144, 90, 12, 5], [37, 81, 144, 90, 12, 5]),
        ("large_shift", [500, 300, 150, 40, 10], [10, 40, 150, 300, 500]),
        ("two_bins", [700, 300], [550, 450]),
        ("small_counts_20", [int(x) for x in small_e], [int(x) for x in small_a]),
        ("percentages", [12.5, 30.0, 27.5, 20.0, 10.0], [10.0, 25.0, 30.0, 22.5, 12.5]),
    ]


def psis():
    cases = psi_cases()
    rows = []
    for case, e, a in cases:
        assert len(e) == len(a)
        rows.extend([case, i + 1, repr(x), repr(y)] for i, (x, y) in enumerate(zip(e, a)))
    write_rows("psi_bins.csv", ["case", "bin", "expected", "actual"], rows)
    back = OrderedDict()
    for r in read_rows("psi_bins.csv"):
        back.setdefault(r["case"], []).append(r)
    out = []
    for case, e, a in cases:
        got = back[case]
        re = [float(r["expected"]) for r in got]
        ra = [float(r["actual"]) for r in got]
        assert re == [float(x) for x in e] and ra == [float(x) for x in a], case
        value = psi(re, ra)
        out.append([case, g17(value)])
        print(f"psi {case}: {value!r}")
    write_rows("psi_expected.csv", ["case", "psi"], out)


# ---------------------------------------------------------------- feature drift


def snapshot(rng, n, recency_scale, frequency_p, monetary_mu, monetary_sigma):
    recency = np.minimum(np.floor(rng.exponential(recency_scale, n)), 700).astype(np.int64)
    frequency = np.minimum(rng.geometric(frequency_p, n), 20).astype(np.int64)
    monetary = np.round(rng.lognormal(monetary_mu, monetary_sigma, n), 2)
    columns = {
        "recency_days": [str(int(v)) for v in recency],
        "frequency": [str(int(v)) for v in frequency],
        "monetary": [repr(float(v)) for v in monetary],
    }
    for text in columns["monetary"]:
        assert "e" not in text and len(text.split(".")[1]) <= 2, text
    for name in DRIFT_FEATURES:
        null = rng.random(n) < 0.01
        columns[name] = ["" if missing else v for v, missing in zip(columns[name], null)]
    return [[i + 1] + [columns[name][i] for name in DRIFT_FEATURES] for i in range(n)]


def read_snapshot(name):
    rows = read_rows(name)
    values = {}
    for feature in DRIFT_FEATURES:
        column = [r[feature] for r in rows]
        values[feature] = (
            np.array([float(v) for v in column if v != ""], dtype=np.float64),
            sum(1 for v in column if v == ""),
        )
    return values


def drift_counts(edges, x, bins):
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=bins)
    assert len(counts) == bins
    return counts


def drift():
    rng = np.random.default_rng(41)
    header = ["id"] + DRIFT_FEATURES
    write_rows("drift_previous.csv", header, snapshot(rng, 3000, 110.0, 0.35, 4.0, 0.9))
    write_rows("drift_current.csv", header, snapshot(rng, 3500, 140.0, 0.30, 4.15, 0.95))
    previous = read_snapshot("drift_previous.csv")
    current = read_snapshot("drift_current.csv")
    out = []
    for feature, bins in [("recency_days", 10), ("frequency", 10), ("monetary", 10), ("monetary", 4)]:
        p, p_missing = previous[feature]
        c, c_missing = current[feature]
        edges = np.quantile(p, np.arange(1, bins) / bins)
        ep = drift_counts(edges, p, bins)
        ec = drift_counts(edges, c, bins)
        value = psi(ep, ec)
        out.append(
            [feature, bins, g17(value), len(p), len(c), p_missing, c_missing, g17(np.mean(p)), g17(np.mean(c))]
            + [g17(np.quantile(x, q)) for q in (0.25, 0.5, 0.75) for x in (p, c)]
        )
        print(
            f"drift {feature} bins={bins}: psi={value!r} rows={len(p)}/{len(c)} missing={p_missing}/{c_missing}\n"
            f"  edges={[float(x) for x in edges]}\n  previous counts={ep.tolist()}\n  current counts={ec.tolist()}"
        )
    write_rows(
        "drift_expected.csv",
        [
            "feature", "bins", "psi", "previous_rows", "current_rows", "previous_missing", "current_missing",
            "previous_mean", "current_mean", "previous_p25", "current_p25", "previous_median", "current_median",
            "previous_p75", "current_p75",
        ],
        out,
    )


def main():
    print(f"scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    os.makedirs(FIXTURES, exist_ok=True)
    labels()
    hmacs()
    psis()
    drift()


if __name__ == "__main__":
    main()
