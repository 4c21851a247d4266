//! `feature_drift(previous, current, 'col,...' [, bins])`: how each feature moved between
//! two snapshots.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_nested::expr_fn::make_array;
use datafusion::logical_expr::{Documentation, Expr, cast, col, lit};
use datafusion::prelude::ident;

use crate::common::args::{SourceTable, check_arity, numeric_columns, table_arg};
use crate::common::constant::int_arg;
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::internal::feature_drift::{FeatureDriftFold, drift_fields};
use crate::plan::{scan, view};

const SYNTAX: &str = "feature_drift(previous, current, features [, bins])";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "Drift of numeric features between two snapshots (last week's customer table and this \
         week's), one row per feature in the order given: psi, the population stability index of \
         the current values binned at the previous snapshot's quantiles (deciles by default; a \
         value equal to an edge goes to the bin above, so tied values stay together and \
         repeated edges leave empty bins, floored at 0.0001 like psi), then rows and missing \
         (NULL or NaN) values, the mean, and the 25th, 50th and 75th percentiles (linear \
         interpolation, as NumPy and quantile_cont) of each snapshot. PSI below 0.1 is stable, \
         0.1–0.25 worth watching, above 0.25 the feature has moved. Equal to a NumPy reference \
         with the same binning (np.quantile edges, np.searchsorted(side='right')). A snapshot \
         with no value of a feature is an error.",
        SYNTAX,
    )
    .with_argument("previous", "The baseline snapshot: a table or view.")
    .with_argument("current", "The snapshot to compare, with the same feature columns.")
    .with_argument("features", "Comma-separated numeric columns: 'recency_days,frequency,monetary'.")
    .with_argument("bins", "Quantile bins of the previous snapshot, 2 to 1000 (default 10, deciles).")
    .with_sql_example(
        "CREATE VIEW h1 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30');\nCREATE VIEW h2 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-12-31');\nSELECT feature, round(psi, 4) AS psi, round(previous_mean, 2) AS previous_mean, round(current_mean, 2) AS current_mean\nFROM feature_drift(h1, h2, 'recency_days,frequency,monetary');",
    )
    .build()
});

#[derive(Debug)]
pub struct FeatureDrift;

impl DocumentedTableFunction for FeatureDrift {
    fn name(&self) -> &str {
        "feature_drift"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for FeatureDrift {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "feature_drift";
        check_arity(F, &args, 3, 4, SYNTAX)?;
        let previous = table_arg(F, &args, 0, "previous snapshot")?;
        let current = table_arg(F, &args, 1, "current snapshot")?;
        let features = numeric_columns(F, &args, &previous, 2)?;
        let bins = int_arg(F, &args, 3, "bins", 2..=1000)?.unwrap_or(10);
        let side = |source: &SourceTable, flag: i64| -> Result<_> {
            let mut columns = vec![lit(flag).alias("__side")];
            for (i, feature) in features.iter().enumerate() {
                let (column, data_type) = source.column(F, "feature", feature)?;
                if !crate::common::args::is_numeric(&data_type) {
                    return plan_err!(
                        "{F}: feature column '{column}' must be numeric in {}, got {data_type}",
                        source.reference
                    );
                }
                columns.push(cast(ident(column), DataType::Float64).alias(format!("__f{i}")));
            }
            scan(source)?.project(columns)
        };
        let folds: Vec<Expr> = features
            .iter()
            .enumerate()
            .map(|(i, feature)| {
                FeatureDriftFold::udaf()
                    .call(vec![col("__side"), col(format!("__f{i}")), lit(feature.as_str()), lit(bins)])
                    .alias(format!("__d{i}"))
            })
            .collect();
        let rows = make_array((0..features.len()).map(|i| col(format!("__d{i}"))).collect());
        let plan = side(&previous, 0)?
            .union(side(&current, 1)?.build()?)?
            .aggregate(Vec::<Expr>::new(), folds)?
            .project(vec![rows.alias("__rows")])?
            .unnest_column("__rows")?
            .project(drift_fields().iter().map(|f| get_field(col("__rows"), f.name().as_str()).alias(f.name())))?
            .build()?;
        Ok(view(plan, format!("feature_drift({}, {}, ...)", previous.reference, current.reference)))
    }
}
