//! Internal scalar functions that turn a cohort's per-offset totals into the cells shown,
//! once the latest day of the data is known.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Int32Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility, lit,
};

use segsql_algo::cohort::cells::{RetentionCell, RevenueCell, retention_cells, revenue_cells};
use segsql_algo::cohort::periods::Grain;

use crate::common::constant::{check_internal_types, decimal_scale, scalar_grain, scalar_int, types};

fn retention_fields() -> Fields {
    Fields::from(vec![
        Field::new("period", DataType::Int32, false),
        Field::new("active_users", DataType::Int64, true),
        Field::new("retention", DataType::Float64, true),
    ])
}

fn revenue_fields() -> Fields {
    Fields::from(vec![
        Field::new("period", DataType::Int32, false),
        Field::new("revenue", DataType::Float64, true),
        Field::new("cumulative_revenue_per_user", DataType::Float64, true),
    ])
}

fn list_of_struct(fields: Fields) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Struct(fields), true)))
}

fn struct_list(fields: Fields, lengths: Vec<usize>, columns: Vec<ArrayRef>) -> Result<ArrayRef> {
    let items = StructArray::try_new(fields.clone(), columns, None)?;
    Ok(Arc::new(ListArray::try_new(
        Arc::new(Field::new_list_field(DataType::Struct(fields), true)),
        OffsetBuffer::from_lengths(lengths),
        Arc::new(items),
        None,
    )?))
}

/// The per-cohort inputs every cells function takes after its totals.
struct CohortRow {
    size: i64,
    cohort: i32,
    latest_day: i32,
}

fn cohort_rows(args: &[ArrayRef]) -> Vec<Option<CohortRow>> {
    let sizes = args[1].as_primitive::<Int64Type>();
    let cohorts = args[2].as_primitive::<Int32Type>();
    let latest = args[3].as_primitive::<Int32Type>();
    (0..sizes.len())
        .map(|row| {
            (sizes.is_valid(row) && cohorts.is_valid(row) && latest.is_valid(row)).then(|| CohortRow {
                size: sizes.value(row),
                cohort: cohorts.value(row),
                latest_day: latest.value(row),
            })
        })
        .collect()
}

/// `segsql_retention_cells(counts, size, cohort, latest_day, grain, cap)`: `cap` is the
/// most offsets shown, NULL for all.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RetentionCells {
    signature: Signature,
}

impl RetentionCells {
    pub fn udf() -> Arc<ScalarUDF> {
        let counts = DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
        let signature = Signature::exact(
            vec![counts, DataType::Int64, DataType::Int32, DataType::Int32, DataType::Utf8, DataType::Int64],
            Volatility::Immutable,
        );
        Arc::new(ScalarUDF::from(RetentionCells { signature }))
    }

    /// The call for a cohort's `counts` shown by `grain`, at most `cap` offsets.
    pub fn call(counts: Expr, size: Expr, cohort: Expr, latest_day: Expr, grain: Grain, cap: Option<i64>) -> Expr {
        Self::udf().call(vec![counts, size, cohort, latest_day, lit(grain.to_string()), lit(ScalarValue::Int64(cap))])
    }
}

impl ScalarUDFImpl for RetentionCells {
    fn name(&self) -> &str {
        "segsql_retention_cells"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of_struct(retention_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (grain, cap) = (scalar_grain(self.name(), &args.args, 4)?, scalar_int(self.name(), &args.args, 5, "cap")?);
        if cap.is_some_and(|cap| cap < 0) {
            return exec_err!("{}: the cap must be 0 or more offsets", self.name());
        }
        let arrays = ColumnarValue::values_to_arrays(&args.args[..4])?;
        let counts = arrays[0].as_list::<i32>();
        let mut cells: Vec<Vec<RetentionCell>> = Vec::new();
        for (row, cohort) in cohort_rows(&arrays).into_iter().enumerate() {
            let Some(cohort) = cohort else {
                cells.push(vec![]);
                continue;
            };
            let list =
                if counts.is_valid(row) { counts.value(row) } else { Arc::new(Int64Array::from(Vec::<i64>::new())) };
            let values = list.as_primitive::<Int64Type>().values();
            cells.push(retention_cells(values, cohort.size, cohort.cohort, cohort.latest_day, grain, cap));
        }
        let lengths = cells.iter().map(Vec::len).collect();
        let flat: Vec<RetentionCell> = cells.into_iter().flatten().collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(flat.iter().map(|c| c.period).collect::<Int32Array>()),
            Arc::new(flat.iter().map(|c| c.active_users).collect::<Int64Array>()),
            Arc::new(flat.iter().map(|c| c.retention).collect::<Float64Array>()),
        ];
        Ok(ColumnarValue::Array(struct_list(retention_fields(), lengths, columns)?))
    }
}

/// `segsql_revenue_cells(totals, size, cohort, latest_day, grain)`, with totals at the
/// scale of their DECIMAL type.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RevenueCells {
    signature: Signature,
}

impl RevenueCells {
    pub fn udf() -> Arc<ScalarUDF> {
        // The totals' decimal scale varies, so the types are checked by the plan that builds them.
        Arc::new(ScalarUDF::from(RevenueCells { signature: Signature::any(5, Volatility::Immutable) }))
    }

    /// The call for a cohort's exact `totals` shown by `grain`.
    pub fn call(totals: Expr, size: Expr, cohort: Expr, latest_day: Expr, grain: Grain) -> Expr {
        Self::udf().call(vec![totals, size, cohort, latest_day, lit(grain.to_string())])
    }
}

impl ScalarUDFImpl for RevenueCells {
    fn name(&self) -> &str {
        "segsql_revenue_cells"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        use types::{int32, int64, list_of_decimals, text};
        check_internal_types(self.name(), arg_types, &[list_of_decimals, int64, int32, int32, text])?;
        Ok(list_of_struct(revenue_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let grain = scalar_grain(self.name(), &args.args, 4)?;
        let scale = decimal_scale(self.name(), args.arg_fields[0].data_type())?;
        let arrays = ColumnarValue::values_to_arrays(&args.args[..4])?;
        let totals = arrays[0].as_list::<i32>();
        let mut cells: Vec<Vec<RevenueCell>> = Vec::new();
        for (row, cohort) in cohort_rows(&arrays).into_iter().enumerate() {
            let Some(cohort) = cohort else {
                cells.push(vec![]);
                continue;
            };
            let values: Vec<i128> = if totals.is_valid(row) {
                totals.value(row).as_primitive::<Decimal128Type>().values().to_vec()
            } else {
                vec![]
            };
            cells.push(revenue_cells(&values, scale, cohort.size, cohort.cohort, cohort.latest_day, grain));
        }
        let lengths = cells.iter().map(Vec::len).collect();
        let flat: Vec<RevenueCell> = cells.into_iter().flatten().collect();
        let columns: Vec<ArrayRef> = vec![
            Arc::new(flat.iter().map(|c| c.period).collect::<Int32Array>()),
            Arc::new(flat.iter().map(|c| c.revenue).collect::<Float64Array>()),
            Arc::new(flat.iter().map(|c| c.cumulative_revenue_per_user).collect::<Float64Array>()),
        ];
        Ok(ColumnarValue::Array(struct_list(revenue_fields(), lengths, columns)?))
    }
}
