//! `rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])`: the buy-till-you-die
//! summary of the Python `lifetimes` package, in SQL.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int32Array, StructArray,
};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::arrow::datatypes::{Decimal128Type, Int32Type};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, ScalarValue, internal_err, plan_err};
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_aggregate::min_max::max_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, EmitTo, Expr, GroupsAccumulator, LogicalPlan,
    Signature, Volatility, cast, lit,
};
use datafusion::prelude::{col, ident};

use super::quantile_score::RFM_SECTION;
use crate::common::args::{
    SourceTable, check_arity, column_arg, is_numeric, is_temporal_or_text, literal_arg, source_table, string_arg,
};
use crate::common::constant::decimal_scale;
use crate::common::grouped::GroupedItems;
use crate::common::grouped::{distinct_periods, is_selected, list_array};
use crate::common::plan::{amount_scale, day_number, day_of_literal, decimal_amount, period_index, scan, view};
use crate::function::DocumentedTableFunction;
use segsql_algo::cohort::periods::Grain;
use segsql_algo::rfm::btyd::{self, BtydSummary};

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        RFM_SECTION,
        "The buy-till-you-die summary (frequency, recency, T, monetary_value) that BG/NBD and \
         Gamma-Gamma models take, as the Python lifetimes package computes it. The definitions \
         are those of its summary_data_from_transaction_data: timestamps are truncated to grain periods (day, or Monday-based week); as_of (its \
         observation_period_end) defaults to the period of the latest timestamp and later \
         periods are dropped; frequency is the number of distinct periods with a purchase minus \
         one; recency is the last period minus the first; T (quote it: \"T\") is as_of minus the \
         first period; monetary_value is the mean of the per-period totals of the repeat \
         periods, 0 when there is none. All four are DOUBLE, in periods. Several orders in one \
         period count once (their amounts add up); zero and negative amounts are kept; rows \
         with a NULL customer or timestamp are skipped and a NULL amount adds nothing. Without \
         amount there is no monetary_value column.",
        "rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])",
    )
    .with_argument("source", "Table or view of transactions, by name.")
    .with_argument("customer", "Customer id column.")
    .with_argument("ts", "Transaction time: DATE, TIMESTAMP or ISO text.")
    .with_argument("amount", "Optional transaction value; NULL to skip it while giving as_of.")
    .with_argument("as_of", "Optional end of the observation period, e.g. '2025-06-30'.")
    .with_argument("grain", "'day' (default) or 'week'.")
    .with_sql_example(
        "SELECT customer_id, frequency, recency, \"T\", round(monetary_value, 2) AS monetary_value\nFROM rfm_summary(sample.orders, customer_id, order_ts, amount)\nORDER BY customer_id\nLIMIT 5;",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct RfmSummary;

fn window_max(value: Expr) -> Expr {
    Expr::from(WindowFunction::new(max_udaf(), vec![value]))
}

/// What `rfm_summary` was asked for, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryArgs {
    pub customer: String,
    pub ts: (String, DataType),
    pub amount: Option<(String, DataType)>,
    pub as_of_day: Option<i32>,
    pub grain: Grain,
}

impl TableFunctionImpl for RfmSummary {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        const SYNTAX: &str = "rfm_summary(source, customer, ts [, amount [, as_of [, grain]]])";
        check_arity("rfm_summary", &args, 3, 6, SYNTAX)?;
        let source = source_table("rfm_summary", &args)?;
        let (customer, _) = column_arg("rfm_summary", &args, &source, 1, "customer")?;
        let ts = column_arg("rfm_summary", &args, &source, 2, "ts")?;
        if !is_temporal_or_text(&ts.1) {
            return plan_err!("rfm_summary: ts column '{}' must be a date, timestamp or ISO text, got {}", ts.0, ts.1);
        }
        let amount = match literal_arg("rfm_summary", &args, 3, "amount") {
            Ok(None) if args.exprs().len() > 3 => None,
            _ if args.exprs().len() <= 3 => None,
            _ => {
                let amount = column_arg("rfm_summary", &args, &source, 3, "amount")?;
                if !is_numeric(&amount.1) {
                    return plan_err!("rfm_summary: amount column '{}' must be numeric, got {}", amount.0, amount.1);
                }
                Some(amount)
            }
        };
        let as_of_day = match literal_arg("rfm_summary", &args, 4, "as_of")? {
            Some(value) => Some(day_of_literal("rfm_summary", "as_of", value)?),
            None => None,
        };
        let grain = match string_arg("rfm_summary", &args, 5, "grain")? {
            None => Grain::Day,
            Some(text) => match text.parse::<Grain>() {
                Ok(grain @ (Grain::Day | Grain::Week)) => grain,
                Ok(other) => {
                    return plan_err!(
                        "rfm_summary: grain '{other}' has periods of unequal length; lifetimes supports day and week"
                    );
                }
                Err(message) => return plan_err!("rfm_summary: {message}"),
            },
        };
        let checked = SummaryArgs { customer, ts, amount, as_of_day, grain };
        let plan = summary_plan(&source, &checked)?;
        Ok(view(plan, format!("rfm_summary({}, ...)", source.reference)))
    }
}

/// One pass: a grouped accumulator gathers each customer's distinct periods with their exact
/// totals and reduces them to the summary. A (customer, period) aggregation followed by a
/// per-customer one would hash every order twice.
fn summary_plan(source: &SourceTable, args: &SummaryArgs) -> Result<LogicalPlan> {
    let (ts, ts_type) = (&args.ts.0, &args.ts.1);
    let customer = ident(&args.customer);
    let period = period_index(day_number(ts, ts_type), args.grain);
    let scale = args.amount.as_ref().map(|(_, amount_type)| amount_scale(amount_type));
    let amount = match (&args.amount, scale) {
        (Some((amount, amount_type)), Some(_)) => decimal_amount(ident(amount), amount_type),
        _ => lit(ScalarValue::Decimal128(Some(0), 38, 0)),
    };
    let mut builder = scan(source)?
        .filter(customer.clone().is_not_null().and(ident(ts).is_not_null()))?
        .project(vec![customer.clone(), period.alias("__period"), amount.alias("__amount")])?;
    let as_of_period = args.as_of_day.map(|day| args.grain.index(day));
    if let Some(last) = as_of_period {
        builder = builder.filter(col("__period").lt_eq(lit(last)))?;
    }
    let summary = BtydAggregate::udaf().call(vec![col("__period"), col("__amount")]);
    builder = builder.aggregate(vec![customer.clone()], vec![summary.alias("__summary")])?.project(vec![
        customer.clone(),
        get_field(col("__summary"), "frequency").alias("frequency"),
        get_field(col("__summary"), "recency").alias("recency"),
        get_field(col("__summary"), "first").alias("__first"),
        get_field(col("__summary"), "last").alias("__last"),
        get_field(col("__summary"), "monetary_value").alias("monetary_value"),
    ])?;
    let end = match as_of_period {
        Some(last) => lit(last),
        None => {
            builder = builder.window(vec![window_max(col("__last")).alias("__end")])?;
            col("__end")
        }
    };
    let mut output =
        vec![customer, col("frequency"), col("recency"), cast(end - col("__first"), DataType::Float64).alias("T")];
    if args.amount.is_some() {
        output.push(col("monetary_value"));
    }
    builder.project(output)?.build()
}

fn summary_fields() -> Fields {
    Fields::from(vec![
        Field::new("frequency", DataType::Float64, false),
        Field::new("recency", DataType::Float64, false),
        Field::new("first", DataType::Int32, false),
        Field::new("last", DataType::Int32, false),
        Field::new("monetary_value", DataType::Float64, false),
    ])
}

/// The internal aggregate `segsql_btyd(period, amount)`: a customer's summary, from
/// DECIMAL amounts of any precision whose scale the type gives.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct BtydAggregate {
    signature: Signature,
}

impl BtydAggregate {
    pub fn udaf() -> Arc<AggregateUDF> {
        // Any decimal precision: the unscaled values are read as they are.
        let signature = Signature::any(2, Volatility::Immutable);
        Arc::new(AggregateUDF::from(BtydAggregate { signature }))
    }
}

impl AggregateUDFImpl for BtydAggregate {
    fn name(&self) -> &str {
        "segsql_btyd"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(summary_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let total = DataType::Decimal128(38, decimal_scale(self.name(), args.input_fields[1].data_type())?);
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "periods"),
                DataType::new_list(DataType::Int32, true),
                true,
            )),
            Arc::new(Field::new(format_state_name(args.name, "first"), DataType::Int32, true)),
            Arc::new(Field::new(format_state_name(args.name, "first_total"), total.clone(), true)),
            Arc::new(Field::new(format_state_name(args.name, "total"), total, true)),
        ])
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        internal_err!("segsql_btyd runs grouped only")
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(BtydGroups::new(decimal_scale(self.name(), args.expr_fields[1].data_type())?)))
    }
}

/// Each customer's periods, plus three running figures: the first period, its total and
/// the grand total. The summary needs no other amounts (the repeat total is the grand total
/// minus the first period's), so a row costs 8 bytes of history instead of a (period,
/// amount) pair, and the partial states carry no per-period amounts.
#[derive(Debug)]
struct BtydGroups {
    scale: i8,
    periods: GroupedItems<i32>,
    first: Vec<i32>,
    first_total: Vec<i128>,
    total: Vec<i128>,
}

/// What `BtydGroups::take` hands over: each group's period count, the periods one group
/// after another, and the running figures.
struct Taken {
    lengths: Vec<usize>,
    periods: Vec<i32>,
    first: Vec<i32>,
    first_total: Vec<i128>,
    total: Vec<i128>,
}

/// "No period yet": larger than any period, so the first real one replaces it.
const NO_PERIOD: i32 = i32::MAX;

impl BtydGroups {
    fn new(scale: i8) -> Self {
        BtydGroups { scale, periods: GroupedItems::default(), first: vec![], first_total: vec![], total: vec![] }
    }

    fn resize(&mut self, total_num_groups: usize) {
        self.periods.resize(total_num_groups);
        if self.first.len() < total_num_groups {
            self.first.resize(total_num_groups, NO_PERIOD);
            self.first_total.resize(total_num_groups, 0);
            self.total.resize(total_num_groups, 0);
        }
    }

    /// Adds `total` spent in `period`, or a partial state's first period and totals.
    #[inline]
    fn add(&mut self, group: usize, first: i32, first_total: i128, total: i128) {
        self.total[group] += total;
        if first < self.first[group] {
            self.first[group] = first;
            self.first_total[group] = first_total;
        } else if first == self.first[group] {
            self.first_total[group] += first_total;
        }
    }

    /// The distinct sorted periods of the groups `emit_to` asks for, with the running
    /// figures taken out alongside.
    fn take(&mut self, emit_to: EmitTo) -> Taken {
        let (lengths, periods) = distinct_periods(self.periods.take(emit_to));
        Taken {
            lengths,
            periods,
            first: emit_to.take_needed(&mut self.first),
            first_total: emit_to.take_needed(&mut self.first_total),
            total: emit_to.take_needed(&mut self.total),
        }
    }

    fn decimal(&self, values: Vec<i128>) -> Result<Decimal128Array> {
        Ok(Decimal128Array::from(values).with_precision_and_scale(38, self.scale)?)
    }
}

impl GroupsAccumulator for BtydGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.resize(total_num_groups);
        let periods = values[0].as_primitive::<Int32Type>();
        let amounts = values[1].as_primitive::<Decimal128Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if periods.is_valid(row) && is_selected(opt_filter, row) {
                let period = periods.value(row);
                // A NULL amount is a period worth nothing.
                let amount = if amounts.is_valid(row) { amounts.value(row) } else { 0 };
                self.periods.push(group, period);
                self.add(group, period, amount, amount);
            }
        }
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let Taken { lengths, periods, first_total, total, .. } = self.take(emit_to);
        let groups = lengths.len();
        let (mut frequency, mut recency, mut firsts, mut lasts, mut monetary) = (
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
            Vec::with_capacity(groups),
        );
        let mut start = 0;
        for (group, length) in lengths.into_iter().enumerate() {
            let own = &periods[start..start + length];
            start += length;
            let summary = btyd::summary(own, first_total[group], total[group], self.scale).unwrap_or(BtydSummary {
                frequency: 0.0,
                recency: 0.0,
                first: 0,
                last: 0,
                monetary_value: 0.0,
            });
            frequency.push(summary.frequency);
            recency.push(summary.recency);
            firsts.push(summary.first);
            lasts.push(summary.last);
            monetary.push(summary.monetary_value);
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(Float64Array::from(frequency)),
            Arc::new(Float64Array::from(recency)),
            Arc::new(Int32Array::from(firsts)),
            Arc::new(Int32Array::from(lasts)),
            Arc::new(Float64Array::from(monetary)),
        ];
        Ok(Arc::new(StructArray::try_new(summary_fields(), columns, None)?))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let Taken { lengths, periods, first, first_total, total } = self.take(emit_to);
        let first: Int32Array = first.into_iter().map(|p| (p != NO_PERIOD).then_some(p)).collect();
        Ok(vec![
            list_array(DataType::Int32, lengths, Arc::new(Int32Array::from(periods)))?,
            Arc::new(first),
            Arc::new(self.decimal(first_total)?),
            Arc::new(self.decimal(total)?),
        ])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.resize(total_num_groups);
        let lists = values[0].as_list::<i32>();
        let items = lists.values().as_primitive::<Int32Type>();
        let offsets = lists.value_offsets();
        let first = values[1].as_primitive::<Int32Type>();
        let first_total = values[2].as_primitive::<Decimal128Type>();
        let total = values[3].as_primitive::<Decimal128Type>();
        for (row, &group) in group_indices.iter().enumerate() {
            if first.is_null(row) {
                continue;
            }
            for index in offsets[row] as usize..offsets[row + 1] as usize {
                self.periods.push(group, items.value(index));
            }
            self.add(group, first.value(row), first_total.value(row), total.value(row));
        }
        Ok(())
    }

    /// Input rows as one-period states, for when DataFusion skips partial aggregation.
    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let periods = values[0].as_primitive::<Int32Type>();
        let amounts = values[1].as_primitive::<Decimal128Type>();
        let keep: Vec<bool> =
            (0..periods.len()).map(|row| periods.is_valid(row) && is_selected(opt_filter, row)).collect();
        let mut items = Vec::with_capacity(periods.len());
        let mut first = Vec::with_capacity(periods.len());
        let mut sums = Vec::with_capacity(periods.len());
        for (row, &kept) in keep.iter().enumerate() {
            if kept {
                items.push(periods.value(row));
                first.push(Some(periods.value(row)));
                sums.push(if amounts.is_valid(row) { amounts.value(row) } else { 0 });
            } else {
                first.push(None);
                sums.push(0);
            }
        }
        let totals = Arc::new(self.decimal(sums)?);
        Ok(vec![
            list_array(DataType::Int32, keep.iter().map(|&k| usize::from(k)), Arc::new(Int32Array::from(items)))?,
            Arc::new(Int32Array::from(first)),
            totals.clone(),
            totals,
        ])
    }

    fn size(&self) -> usize {
        self.periods.size() + self.first.capacity() * 4 + (self.first_total.capacity() + self.total.capacity()) * 16
    }
}

impl DocumentedTableFunction for RfmSummary {
    fn name(&self) -> &str {
        "rfm_summary"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}
