//! `segsql_snapshot_rows(rows, customer, snapshot)`: `segment_transitions`' check that each
//! snapshot holds a customer once. Returns `rows`; a count above 1 is an error that names
//! the customer, since a migration table cannot say where such a customer went.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::common::constant::scalar_text;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SnapshotRows {
    signature: Signature,
}

impl SnapshotRows {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(SnapshotRows { signature: Signature::any(3, Volatility::Immutable) }))
    }
}

impl ScalarUDFImpl for SnapshotRows {
    fn name(&self) -> &str {
        "segsql_snapshot_rows"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let snapshot = scalar_text("segment_transitions", &args.args, 2, "snapshot")?;
        let rows = args.args[0].to_array(args.number_rows)?;
        let Some(counts) = rows.as_primitive_opt::<Int64Type>() else {
            return exec_err!("segsql_snapshot_rows: rows must be BIGINT, got {}", rows.data_type());
        };
        if let Some(row) = (0..counts.len()).find(|&i| counts.is_valid(i) && counts.value(i) > 1) {
            let customers = args.args[1].to_array(args.number_rows)?;
            let customer = ScalarValue::try_from_array(&customers, row)?;
            return exec_err!(
                "segment_transitions: customer {customer} appears {} times in the {snapshot} snapshot; \
                 each snapshot needs one row per customer (deduplicate it first, e.g. keep the latest row per customer)",
                counts.value(row)
            );
        }
        Ok(args.args[0].clone())
    }
}
