//! `segment_transitions(previous, current, customer, segment)`: where each segment's
//! customers went between two snapshots.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::expr_fn::sum;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::type_coercion::binary::comparison_coercion;
use datafusion::logical_expr::{Documentation, Expr, ExprFunctionExt, cast, col, lit};
use datafusion::prelude::ident;

use crate::common::args::{SourceTable, check_arity, name_of, table_arg};
use crate::function::{DocumentedTableFunction, GOVERNANCE_SECTION};
use crate::internal::transitions::{TransitionsFold, transition_fields};
use crate::plan::{scan, view};

const SYNTAX: &str = "segment_transitions(previous, current, customer, segment)";

/// Integer ids fold in this many buckets of the id, in parallel; counts add up exactly, so
/// the number changes nothing in the result.
const BUCKETS: i64 = 16;

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

/// The type of a segment column (checked to exist before).
fn segment_type(source: &SourceTable, segment: &str) -> DataType {
    source.schema.field_with_name(segment).map(|f| f.data_type().clone()).unwrap_or(DataType::Utf8)
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
        // Integer ids fold as integers (in 16 buckets of the id, folded in parallel); any
        // other type as its text.
        let key_type = if customer_type.is_integer() { DataType::Int64 } else { DataType::Utf8 };
        // Both snapshots' segments must have one type for the union: string columns of the
        // same type stay as they are, anything else becomes Utf8.
        let (p_type, c_type) = (segment_type(&previous, &p_segment), segment_type(&current, &c_segment));
        let text = |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
        let segment_type = if p_type == c_type && text(&p_type) { p_type } else { DataType::Utf8 };
        let side = |source: &SourceTable, customer: &str, segment: &str, snapshot: i64| {
            scan(source)?.filter(ident(customer).is_not_null())?.project(vec![
                cast(cast(ident(customer), customer_type.clone()), key_type.clone()).alias("__customer"),
                lit(snapshot).alias("__side"),
                cast(ident(segment), segment_type.clone()).alias("__segment"),
            ])
        };
        let buckets = if key_type == DataType::Int64 {
            vec![(col("__customer") % lit(BUCKETS)).alias("__bucket")]
        } else {
            vec![]
        };
        let fold = TransitionsFold::udaf().call(vec![col("__customer"), col("__side"), col("__segment")]);
        let share =
            Expr::from(WindowFunction::new(datafusion::functions_aggregate::sum::sum_udaf(), vec![col("customers")]))
                .partition_by(vec![col("from_segment")])
                .build()?;
        let plan = side(&previous, &p_customer, &p_segment, 0)?
            .union(side(&current, &c_customer, &c_segment, 1)?.build()?)?
            .aggregate(buckets, vec![fold.alias("__cells")])?
            .unnest_column("__cells")?
            .project(transition_fields().iter().map(|f| get_field(col("__cells"), f.name().as_str()).alias(f.name())))?
            .aggregate(vec![col("from_segment"), col("to_segment")], vec![sum(col("customers")).alias("customers")])?
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
