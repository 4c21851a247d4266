//! The state shared by `adjusted_rand` and `mutual_info`: every pair of labels seen, as
//! integers or as text. Labels are numbered in their sorted order at the end, as
//! scikit-learn's `np.unique` numbers them, so the contingency table is summed in the same
//! order whatever the partitioning.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::Accumulator;
use segsql_algo::governance::Contingency;

use crate::common::grouped::single_list;

/// Labels are compared as integers or as text; any other type is refused while planning.
pub fn label_type(function: &str, role: &str, data_type: &DataType) -> Result<DataType> {
    match data_type {
        t if t.is_integer() || t.is_null() || *t == DataType::Boolean => Ok(DataType::Int64),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(..) => Ok(DataType::Utf8),
        other => plan_err!(
            "{function}: {role} must be a label (an integer or text, such as a cluster id or a segment), got {other}"
        ),
    }
}

/// The argument types after coercion, or an error naming the bad one.
pub fn coerce_labels(function: &str, arg_types: &[DataType]) -> Result<Vec<DataType>> {
    match arg_types {
        [a, b] => Ok(vec![label_type(function, "a", a)?, label_type(function, "b", b)?]),
        _ => plan_err!("{function}: expected {function}(a, b) with two labelings, got {} arguments", arg_types.len()),
    }
}

pub fn state_fields(name: &str, types: &[DataType]) -> Vec<FieldRef> {
    ["a", "b"]
        .iter()
        .zip(types)
        .map(|(part, t)| Arc::new(Field::new(format!("{name}[{part}]"), DataType::new_list(t.clone(), true), true)))
        .collect()
}

/// One labeling's values.
#[derive(Debug)]
enum Labels {
    Int(Vec<i64>),
    /// Text labels interned: one code per row, each distinct label stored once (a segment
    /// column has a handful of labels over millions of rows).
    Text {
        codes: Vec<u32>,
        names: Vec<String>,
        index: HashMap<String, u32>,
    },
}

impl Labels {
    fn new(data_type: &DataType) -> Labels {
        if *data_type == DataType::Utf8 {
            Labels::Text { codes: Vec::new(), names: Vec::new(), index: HashMap::new() }
        } else {
            Labels::Int(Vec::new())
        }
    }

    fn push_text(codes: &mut Vec<u32>, names: &mut Vec<String>, index: &mut HashMap<String, u32>, text: &str) {
        let code = match index.get(text) {
            Some(&code) => code,
            None => {
                let code = names.len() as u32;
                names.push(text.to_string());
                index.insert(text.to_string(), code);
                code
            }
        };
        codes.push(code);
    }

    fn push(&mut self, array: &ArrayRef, row: usize) {
        match self {
            Labels::Int(values) => values.push(array.as_primitive::<Int64Type>().value(row)),
            Labels::Text { codes, names, index } => {
                Labels::push_text(codes, names, index, array.as_string::<i32>().value(row))
            }
        }
    }

    fn extend(&mut self, array: &ArrayRef) {
        match self {
            Labels::Int(values) => values.extend(array.as_primitive::<Int64Type>().iter().flatten()),
            Labels::Text { codes, names, index } => {
                for text in array.as_string::<i32>().iter().flatten() {
                    Labels::push_text(codes, names, index, text);
                }
            }
        }
    }

    fn take(&mut self) -> ArrayRef {
        match self {
            Labels::Int(values) => Arc::new(Int64Array::from(std::mem::take(values))),
            Labels::Text { codes, names, .. } => {
                let array: StringArray = codes.iter().map(|&c| Some(names[c as usize].as_str())).collect();
                codes.clear();
                Arc::new(array)
            }
        }
    }

    fn item_type(&self) -> DataType {
        match self {
            Labels::Int(_) => DataType::Int64,
            Labels::Text { .. } => DataType::Utf8,
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            Labels::Int(values) => values.is_empty(),
            Labels::Text { codes, .. } => codes.is_empty(),
        }
    }

    /// Labels numbered 0.. in sorted order of their values.
    fn dense(&self) -> Vec<u32> {
        match self {
            Labels::Int(values) => {
                let mut distinct = values.clone();
                distinct.sort_unstable();
                distinct.dedup();
                values.iter().map(|v| distinct.binary_search(v).unwrap_or_default() as u32).collect()
            }
            Labels::Text { codes, names, .. } => {
                let mut order: Vec<u32> = (0..names.len() as u32).collect();
                order.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
                let mut rank = vec![0u32; names.len()];
                for (position, &code) in order.iter().enumerate() {
                    rank[code as usize] = position as u32;
                }
                codes.iter().map(|&c| rank[c as usize]).collect()
            }
        }
    }

    fn size(&self) -> usize {
        match self {
            Labels::Int(values) => values.capacity() * 8,
            Labels::Text { codes, names, .. } => {
                codes.capacity() * 4 + names.iter().map(|s| 2 * s.capacity() + 48).sum::<usize>()
            }
        }
    }
}

pub type Score = fn(&Contingency) -> f64;

pub struct LabelPairs {
    function: &'static str,
    a: Labels,
    b: Labels,
    score: Score,
}

impl std::fmt::Debug for LabelPairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} label pairs", self.function)
    }
}

impl LabelPairs {
    pub fn new(function: &'static str, types: &[DataType], score: Score) -> LabelPairs {
        LabelPairs { function, a: Labels::new(&types[0]), b: Labels::new(&types[1]), score }
    }
}

/// The array as the accumulator stores it (the planner already coerced it; this keeps a
/// direct caller of the accumulator honest).
fn as_stored(array: &ArrayRef, labels: &Labels) -> Result<ArrayRef> {
    Ok(cast(array, &labels.item_type())?)
}

impl Accumulator for LabelPairs {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (a, b) = (as_stored(&values[0], &self.a)?, as_stored(&values[1], &self.b)?);
        for row in 0..a.len() {
            if a.is_null(row) || b.is_null(row) {
                continue;
            }
            self.a.push(&a, row);
            self.b.push(&b, row);
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (a, b) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..a.len() {
            if a.is_valid(row) && b.is_valid(row) {
                self.a.extend(&a.value(row));
                self.b.extend(&b.value(row));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (a_type, b_type) = (self.a.item_type(), self.b.item_type());
        Ok(vec![single_list(a_type, self.a.take())?, single_list(b_type, self.b.take())?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.a.is_empty() {
            return Ok(ScalarValue::Float64(None));
        }
        let (a, b) = (self.a.dense(), self.b.dense());
        Ok(ScalarValue::Float64(Some((self.score)(&Contingency::new(&a, &b)))))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.a.size() + self.b.size()
    }
}

/// An agreement index over two labelings: `$name(a, b)` returning `$score(contingency)` as
/// a DOUBLE. The two indices differ only in their score and docs.
macro_rules! make_agreement_udaf {
    ($udaf:ident, $name:literal, $score:path, $doc:expr) => {
        #[derive(Debug, PartialEq, Eq, Hash)]
        pub struct $udaf {
            signature: datafusion::logical_expr::Signature,
        }

        impl $udaf {
            pub fn udaf() -> std::sync::Arc<datafusion::logical_expr::AggregateUDF> {
                std::sync::Arc::new(datafusion::logical_expr::AggregateUDF::from($udaf {
                    signature: datafusion::logical_expr::Signature::user_defined(
                        datafusion::logical_expr::Volatility::Immutable,
                    ),
                }))
            }
        }

        impl datafusion::logical_expr::AggregateUDFImpl for $udaf {
            fn name(&self) -> &str {
                $name
            }

            fn signature(&self) -> &datafusion::logical_expr::Signature {
                &self.signature
            }

            fn coerce_types(
                &self,
                arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::DataType>> {
                $crate::governance::label_pairs::coerce_labels($name, arg_types)
            }

            fn return_type(
                &self,
                _arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::DataType> {
                Ok(datafusion::arrow::datatypes::DataType::Float64)
            }

            fn accumulator(
                &self,
                args: datafusion::logical_expr::function::AccumulatorArgs,
            ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::Accumulator>> {
                let types: Vec<_> =
                    args.exprs.iter().map(|e| e.data_type(args.schema)).collect::<datafusion::common::Result<_>>()?;
                Ok(Box::new($crate::governance::label_pairs::LabelPairs::new($name, &types, $score)))
            }

            fn state_fields(
                &self,
                args: datafusion::logical_expr::function::StateFieldsArgs,
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
                let types: Vec<_> = args.input_fields.iter().map(|f| f.data_type().clone()).collect();
                Ok($crate::governance::label_pairs::state_fields(args.name, &types))
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                Some(&$doc)
            }
        }
    };
}

pub(crate) use make_agreement_udaf;
