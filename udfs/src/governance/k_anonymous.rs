//! `k_anonymous(source, 'col,...', k)`: the rows whose quasi-identifiers are shared by at
//! least k rows.

use std::sync::{Arc, LazyLock};

use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Column, Result, plan_err};
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{Documentation, Expr, ExprFunctionExt, col, lit, when};

use crate::common::args::{check_arity, source_table};
use crate::common::constant::{int_arg, string_arg};
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::plan::{scan, view};

const SYNTAX: &str = "k_anonymous(source, columns, k)";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "The rows of a table whose combination of the listed columns (the quasi-identifiers: \
         postcode, age band, segment...) occurs at least k times, so an audience export holds \
         no small group that could single a person out. Every column of the source is kept, \
         plus rows_dropped (BIGINT, the same on every row): how many source rows were left out \
         for being in a group smaller than k; leave it out of the export with \
         SELECT * EXCLUDE (rows_dropped). NULL is a value like any other in a combination. \
         k-anonymity hides small groups; it does not make the export anonymous.",
        SYNTAX,
    )
    .with_argument("source", "A table or view name, bare or quoted.")
    .with_argument("columns", "Comma-separated quasi-identifier columns: 'country,acquisition_channel'.")
    .with_argument("k", "The smallest group size kept, at least 1 (e.g. 10).")
    .with_sql_example(
        "SELECT country, acquisition_channel, count(*) AS customers, max(rows_dropped) AS rows_dropped\nFROM k_anonymous(sample.customers, 'country,acquisition_channel', 50)\nGROUP BY 1, 2 ORDER BY 1, 2 LIMIT 5;",
    )
    .build()
});

#[derive(Debug)]
pub struct KAnonymous;

impl DocumentedTableFunction for KAnonymous {
    fn name(&self) -> &str {
        "k_anonymous"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for KAnonymous {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "k_anonymous";
        check_arity(F, &args, 3, 3, SYNTAX)?;
        let source = source_table(F, &args)?;
        let Some(list) = string_arg(F, &args, 1, "columns")? else {
            return plan_err!("{F}: columns must list the quasi-identifier columns, such as 'country,age_band'");
        };
        let column = |name: &str| Expr::Column(Column::new(Some(source.reference.clone()), name));
        let mut keys = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (found, _) = source.column(F, "quasi-identifier", name)?;
            keys.push(column(&found));
        }
        if keys.is_empty() {
            return plan_err!("{F}: columns must name at least one column, such as 'country,age_band'");
        }
        if source.schema.fields().iter().any(|f| f.name() == "rows_dropped") {
            return plan_err!(
                "{F}: {} already has a column rows_dropped, the column k_anonymous adds; rename it",
                source.reference
            );
        }
        let Some(k) = int_arg(F, &args, 2, "k", 1..=i64::MAX)? else {
            return plan_err!("{F}: k must be a whole number of at least 1, such as 10");
        };
        let group_size = Expr::from(WindowFunction::new(count_udaf(), vec![lit(1i64)])).partition_by(keys).build()?;
        let small = when(col("__group_size").lt(lit(k)), lit(1i64)).otherwise(lit(0i64))?;
        let dropped = Expr::from(WindowFunction::new(sum_udaf(), vec![small]));
        let mut output: Vec<Expr> = source.schema.fields().iter().map(|f| column(f.name())).collect();
        output.push(
            datafusion::logical_expr::cast(col("__dropped"), datafusion::arrow::datatypes::DataType::Int64)
                .alias("rows_dropped"),
        );
        let plan = scan(&source)?
            .window(vec![group_size.alias("__group_size")])?
            .window(vec![dropped.alias("__dropped")])?
            .filter(col("__group_size").gt_eq(lit(k)))?
            .project(output)?
            .build()?;
        Ok(view(plan, format!("k_anonymous({}, ...)", source.reference)))
    }
}
