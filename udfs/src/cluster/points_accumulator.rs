//! The state shared by the cluster-validation aggregates: every (features, cluster) pair
//! seen, scored once at the end on the points in value order, so partial states can be
//! merged in any order without changing a bit of the result.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array, Int64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::Accumulator;
use ndarray::{Array2, ArrayView2};

use crate::common::features::{features_from_array_with, labels_from_array};
use segsql_algo::cluster::dense_labels;

use crate::common::grouped::single_list;

/// Scores points given dense labels and the number of clusters.
pub type Score = Box<dyn Fn(ArrayView2<f64>, &[u32], usize) -> Option<f64> + Send + Sync>;

pub struct PointsAccumulator {
    function: &'static str,
    values: Vec<f64>,
    labels: Vec<i64>,
    dims: Option<usize>,
    score: Score,
}

impl std::fmt::Debug for PointsAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} over {} points", self.function, self.labels.len())
    }
}

impl PointsAccumulator {
    pub fn new(function: &'static str, score: Score) -> Self {
        PointsAccumulator { function, values: Vec::new(), labels: Vec::new(), dims: None, score }
    }

    pub fn state_fields(name: &str) -> Vec<FieldRef> {
        vec![
            Arc::new(Field::new(format!("{name}[values]"), DataType::new_list(DataType::Float64, true), true)),
            Arc::new(Field::new(format!("{name}[labels]"), DataType::new_list(DataType::Int64, true), true)),
        ]
    }

    fn set_dims(&mut self, dims: usize) -> Result<()> {
        match self.dims {
            Some(d) if d != dims => exec_err!(
                "{}: feature arrays must all have the same length, but one has {dims} values and another {d}",
                self.function
            ),
            _ => {
                self.dims = Some(dims);
                Ok(())
            }
        }
    }
}

impl Accumulator for PointsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let features = features_from_array_with(self.function, &values[0], self.dims)?;
        let labels = labels_from_array(self.function, &values[1])?;
        if features.dims() > 0 {
            self.set_dims(features.dims())?;
        }
        for (point, &row) in features.matrix.rows().into_iter().zip(&features.rows) {
            if labels.is_valid(row) {
                self.values.extend(point.iter());
                self.labels.push(labels.value(row));
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values = Float64Array::from(std::mem::take(&mut self.values));
        let labels = Int64Array::from(std::mem::take(&mut self.labels));
        Ok(vec![single_list(DataType::Float64, Arc::new(values))?, single_list(DataType::Int64, Arc::new(labels))?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let values = states[0].as_list::<i32>();
        let labels = states[1].as_list::<i32>();
        for i in 0..values.len() {
            if values.is_null(i) || labels.is_null(i) {
                continue;
            }
            let v = values.value(i);
            let l = labels.value(i);
            let v = v.as_primitive::<Float64Type>();
            let l = l.as_primitive::<Int64Type>();
            if l.is_empty() {
                continue;
            }
            self.set_dims(v.len() / l.len())?;
            self.values.extend(v.values().iter());
            self.labels.extend(l.values().iter());
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let Some(dims) = self.dims.filter(|_| !self.labels.is_empty()) else {
            return Ok(ScalarValue::Float64(None));
        };
        let n = self.labels.len();
        let mut order: Vec<usize> = (0..n).collect();
        let row = |i: usize| &self.values[i * dims..(i + 1) * dims];
        order.sort_unstable_by(|&a, &b| {
            row(a)
                .iter()
                .zip(row(b))
                .map(|(x, y)| x.total_cmp(y))
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(self.labels[a].cmp(&self.labels[b]))
        });
        let mut data = Vec::with_capacity(n * dims);
        for &i in &order {
            data.extend_from_slice(row(i));
        }
        let sorted_labels: Vec<i64> = order.iter().map(|&i| self.labels[i]).collect();
        let (dense, clusters) = dense_labels(&sorted_labels);
        let points = Array2::from_shape_vec((n, dims), data)
            .or_else(|e| datafusion::common::internal_err!("{}: {e}", self.function))?;
        Ok(ScalarValue::Float64((self.score)(points.view(), &dense, clusters)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.capacity() * 8 + self.labels.capacity() * 8
    }
}

/// A validity index over `(features, cluster)` rows: `$name(features, cluster)` returning
/// `$kernel(points, labels, clusters)` as a DOUBLE. The indices differ only in their kernel
/// and their docs, as DataFusion's `make_math_unary_udf!` functions do.
macro_rules! make_validity_udaf {
    ($udaf:ident, $name:literal, $kernel:path, $doc:expr) => {
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
                match arg_types {
                    [features, cluster] => {
                        $crate::common::features::check_feature_type($name, features)?;
                        $crate::common::features::check_label_type($name, cluster)?;
                        Ok(arg_types.to_vec())
                    }
                    _ => datafusion::common::plan_err!(
                        "{}: expected {}(features, cluster), got {} arguments",
                        $name,
                        $name,
                        arg_types.len()
                    ),
                }
            }

            fn return_type(
                &self,
                _arg_types: &[datafusion::arrow::datatypes::DataType],
            ) -> datafusion::common::Result<datafusion::arrow::datatypes::DataType> {
                Ok(datafusion::arrow::datatypes::DataType::Float64)
            }

            fn accumulator(
                &self,
                _args: datafusion::logical_expr::function::AccumulatorArgs,
            ) -> datafusion::common::Result<Box<dyn datafusion::logical_expr::Accumulator>> {
                Ok(Box::new($crate::cluster::points_accumulator::PointsAccumulator::new($name, Box::new($kernel))))
            }

            fn state_fields(
                &self,
                args: datafusion::logical_expr::function::StateFieldsArgs,
            ) -> datafusion::common::Result<Vec<datafusion::arrow::datatypes::FieldRef>> {
                Ok($crate::cluster::points_accumulator::PointsAccumulator::state_fields(args.name))
            }

            fn documentation(&self) -> Option<&datafusion::logical_expr::Documentation> {
                Some(&$doc)
            }
        }
    };
}

pub(crate) use make_validity_udaf;
