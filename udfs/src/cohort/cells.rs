//! Internal scalar functions that turn a cohort's per-offset totals into the cells shown,
//! once the latest day of the data is known.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Decimal128Type, Field, Fields, Int32Type, Int64Type};
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use super::kernels::{RetentionCell, RevenueCell, retention_cells, revenue_cells};
use crate::common::periods::Grain;

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

/// `segsql_retention_cells(counts, size, cohort, latest_day)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RetentionCells {
    signature: Signature,
    grain: Grain,
    cap: Option<i64>,
}

impl RetentionCells {
    pub fn udf(grain: Grain, cap: Option<i64>) -> Arc<ScalarUDF> {
        let counts = DataType::List(Arc::new(Field::new_list_field(DataType::Int64, true)));
        let signature =
            Signature::exact(vec![counts, DataType::Int64, DataType::Int32, DataType::Int32], Volatility::Immutable);
        Arc::new(ScalarUDF::from(RetentionCells { signature, grain, cap }))
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
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
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
            cells.push(retention_cells(values, cohort.size, cohort.cohort, cohort.latest_day, self.grain, self.cap));
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

/// `segsql_revenue_cells(totals, size, cohort, latest_day)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RevenueCells {
    signature: Signature,
    grain: Grain,
    scale: i8,
}

impl RevenueCells {
    pub fn udf(grain: Grain, scale: i8) -> Arc<ScalarUDF> {
        let totals = DataType::List(Arc::new(Field::new_list_field(DataType::Decimal128(38, scale), true)));
        let signature =
            Signature::exact(vec![totals, DataType::Int64, DataType::Int32, DataType::Int32], Volatility::Immutable);
        Arc::new(ScalarUDF::from(RevenueCells { signature, grain, scale }))
    }
}

impl ScalarUDFImpl for RevenueCells {
    fn name(&self) -> &str {
        "segsql_revenue_cells"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(list_of_struct(revenue_fields()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
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
            cells.push(revenue_cells(&values, self.scale, cohort.size, cohort.cohort, cohort.latest_day, self.grain));
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
