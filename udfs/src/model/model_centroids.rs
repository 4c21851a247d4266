//! `model_centroids('model_name')`: a saved model's clusters in the features' own units.

use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{Result, plan_err};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::Documentation;

use super::ModelStore;
use crate::common::args::check_arity;
use crate::common::constant::string_arg;
use crate::function::CLUSTER_SECTION;
use crate::function::DocumentedTableFunction;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The clusters of a model made by CREATE MODEL: cluster_id, size (training rows in the \
         cluster) and one column per feature holding the centroid in the features' original, \
         unscaled units, so the segments can be read as personas.",
        "model_centroids(model_name)",
    )
    .with_argument("model_name", "The model's name, a string.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL customer_segments\n  USING kmeans (k = 4, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT * FROM model_centroids('customer_segments');",
    )
    .build()
});

#[derive(Debug, Default)]
pub struct ModelCentroids;

impl DocumentedTableFunction for ModelCentroids {
    fn name(&self) -> &str {
        "model_centroids"
    }

    fn documentation(&self) -> &Documentation {
        &DOC
    }
}

impl TableFunctionImpl for ModelCentroids {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        check_arity("model_centroids", &args, 1, 1, "model_centroids(model_name)")?;
        let Some(name) = string_arg("model_centroids", &args, 0, "model_name")? else {
            return plan_err!("model_centroids: give the model's name, such as model_centroids('customer_segments')");
        };
        let model = ModelStore::for_session(args.session().config().options()).load_kmeans("model_centroids", &name)?;
        let mut fields =
            vec![Field::new("cluster_id", DataType::Int64, false), Field::new("size", DataType::Int64, false)];
        for feature in &model.features {
            if fields.iter().any(|f| f.name() == feature) {
                return plan_err!(
                    "model_centroids: model '{name}' has a feature named '{feature}', which clashes with a column of this table"
                );
            }
            fields.push(Field::new(feature, DataType::Float64, false));
        }
        let schema = Arc::new(Schema::new(fields));
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from_iter_values(model.clusters.iter().map(|c| c.cluster_id as i64))),
            Arc::new(Int64Array::from_iter_values(model.clusters.iter().map(|c| c.size as i64))),
        ];
        for d in 0..model.dims() {
            columns.push(Arc::new(Float64Array::from_iter_values(model.clusters.iter().map(|c| c.centroid[d]))));
        }
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}
