//! `segment_transitions(previous, current, customer, segment)`: where each segment's
//! customers went between two snapshots.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
use datafusion::logical_expr::{Documentation, Expr, ExprFunctionExt, cast, col, lit, when};
use datafusion::prelude::ident;

use crate::common::args::{SourceTable, check_arity, name_of, table_arg};
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::internal::snapshot_rows::SnapshotRows;
use crate::plan::{scan, view};

const SYNTAX: &str = "segment_transitions(previous, current, customer, segment)";

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "Segment migration between two snapshots of the same customers (last week's export and \
         this week's): one row per (from_segment, to_segment) with the number of customers that \
         moved that way and their share of from_segment's customers. Customers only in the \
         current snapshot come from '(new)', customers only in the previous one go to '(gone)'. \
         Segments are compared as text; a NULL segment stays NULL. Rows with a NULL customer are \
         left out; a customer that appears twice in one snapshot is an error naming the \
         customer. Draw it as a heatmap (from × to) with -- @chart heatmap.",
        SYNTAX,
    )
    .with_argument("previous", "The earlier snapshot: a table or view with one row per customer.")
    .with_argument("current", "The later snapshot, with the same customer and segment columns.")
    .with_argument("customer", "The customer id column, in both snapshots.")
    .with_argument("segment", "The segment (or cluster) column, in both snapshots.")
    .with_sql_example(
        "CREATE VIEW h1 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-06-30');\nCREATE VIEW h2 AS SELECT * FROM rfm(sample.orders, customer_id, order_ts, amount, '2025-12-31');\nSELECT from_segment, to_segment, customers, round(share_of_from, 3) AS share_of_from\nFROM segment_transitions(h1, h2, customer_id, segment)\nORDER BY from_segment, customers DESC\nLIMIT 5;",
    )
    .build()
});

#[derive(Debug)]
pub struct SegmentTransitions;

impl DocumentedTableFunction for SegmentTransitions {
    fn name(&self) -> &str {
        "segment_transitions"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

fn name_arg(args: &TableFunctionArgs, index: usize, role: &str) -> Result<String> {
    match args.exprs().get(index).and_then(name_of) {
        Some(name) => Ok(name),
        None => plan_err!("segment_transitions: the {role} column must be a column name (argument {})", index + 1),
    }
}

impl TableFunctionImpl for SegmentTransitions {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const F: &str = "segment_transitions";
        check_arity(F, &args, 4, 4, SYNTAX)?;
        let previous = table_arg(F, &args, 0, "previous snapshot")?;
        let current = table_arg(F, &args, 1, "current snapshot")?;
        let (customer, segment) = (name_arg(&args, 2, "customer")?, name_arg(&args, 3, "segment")?);
        let (p_customer, p_customer_type) = previous.column(F, "customer", &customer)?;
        let (c_customer, c_customer_type) = current.column(F, "customer", &customer)?;
        let (p_segment, _) = previous.column(F, "segment", &segment)?;
        let (c_segment, _) = current.column(F, "segment", &segment)?;
        // Ids of different types are compared as SQL compares them (an integer id against a
        // float one as numbers); types that do not compare need a CAST.
        let customer_type = match comparison_coercion(&p_customer_type, &c_customer_type) {
            Some(common) => common,
            None => {
                return plan_err!(
                    "{F}: customer is {p_customer_type} in {} but {c_customer_type} in {}; CAST one of them so the ids compare",
                    previous.reference,
                    current.reference
                );
            }
        };
        let side = |source: &SourceTable, customer: &str, segment: &str, previous: bool| {
            let flag = |on: bool| lit(if on { 1i64 } else { 0i64 });
            scan(source)?.filter(ident(customer).is_not_null())?.project(vec![
                cast(ident(customer), customer_type.clone()).alias("__customer"),
                flag(previous).alias("__in_previous"),
                flag(!previous).alias("__in_current"),
                if previous { cast(ident(segment), DataType::Utf8) } else { lit(ScalarValue::Utf8(None)) }
                    .alias("__from"),
                if previous { lit(ScalarValue::Utf8(None)) } else { cast(ident(segment), DataType::Utf8) }
                    .alias("__to"),
            ])
        };
        let once =
            |rows: &str, snapshot: &str| SnapshotRows::udf().call(vec![col(rows), col("__customer"), lit(snapshot)]);
        let customers = count(lit(1i64));
        let share =
            Expr::from(WindowFunction::new(datafusion::functions_aggregate::sum::sum_udaf(), vec![col("customers")]))
                .partition_by(vec![col("from_segment")])
                .build()?;
        let plan = side(&previous, &p_customer, &p_segment, true)?
            .union(side(&current, &c_customer, &c_segment, false)?.build()?)?
            .aggregate(
                vec![col("__customer")],
                vec![
                    sum(col("__in_previous")).alias("__previous_rows"),
                    sum(col("__in_current")).alias("__current_rows"),
                    max(col("__from")).alias("__from"),
                    max(col("__to")).alias("__to"),
                ],
            )?
            .project(vec![
                when(once("__previous_rows", "previous").eq(lit(0i64)), lit("(new)"))
                    .otherwise(col("__from"))?
                    .alias("from_segment"),
                when(once("__current_rows", "current").eq(lit(0i64)), lit("(gone)"))
                    .otherwise(col("__to"))?
                    .alias("to_segment"),
            ])?
            .aggregate(vec![col("from_segment"), col("to_segment")], vec![customers.alias("customers")])?
            .window(vec![share.alias("__from_total")])?
            .project(vec![
                col("from_segment"),
                col("to_segment"),
                col("customers"),
                (cast(col("customers"), DataType::Float64) / cast(col("__from_total"), DataType::Float64))
                    .alias("share_of_from"),
            ])?
            .build()?;
        Ok(view(plan, format!("segment_transitions({}, {}, ...)", previous.reference, current.reference)))
    }
}
