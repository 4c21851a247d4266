//! `kmeans_assign('model_name', features)`: scores rows with a saved k-means model.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, internal_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::ModelStore;
use super::scoring::{Output, coerce, invoke, return_field, store_key};
use crate::cluster::features::CLUSTER_SECTION;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        CLUSTER_SECTION,
        "The cluster (1 to k) of each row under a model made by CREATE MODEL: the features are scaled with the model's stored scaler and the row goes to the nearest centroid (Euclidean; ties to the lower cluster id). The model file is read once per query and again only when it changes. Rows whose features are NULL, NaN or infinite get NULL. The features must be given in the model's order and number (the error lists them).",
        "kmeans_assign('model_name', features)",
    )
    .with_argument("model_name", "The model's name, a constant string.")
    .with_argument("features", "An array of numbers in the model's feature order.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL customer_segments\n  USING kmeans (k = 4, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT kmeans_assign('customer_segments', [recency_days, frequency, monetary]) AS cluster, count(*) AS customers\nFROM rfm(sample.orders, customer_id, order_ts, amount)\nGROUP BY cluster ORDER BY cluster;",
    )
    .build()
});

#[derive(Debug)]
pub struct KMeansAssign {
    signature: Signature,
    store: Arc<ModelStore>,
}

impl KMeansAssign {
    pub fn udf(store: Arc<ModelStore>) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(KMeansAssign { signature: Signature::user_defined(Volatility::Stable), store }))
    }
}

impl PartialEq for KMeansAssign {
    fn eq(&self, other: &Self) -> bool {
        store_key(&self.store) == store_key(&other.store)
    }
}

impl Eq for KMeansAssign {}

impl Hash for KMeansAssign {
    fn hash<H: Hasher>(&self, state: &mut H) {
        store_key(&self.store).hash(state);
    }
}

impl ScalarUDFImpl for KMeansAssign {
    fn name(&self) -> &str {
        "kmeans_assign"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("kmeans_assign", arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("kmeans_assign: return_field_from_args is used instead")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        return_field("kmeans_assign", &self.store, args, Output::Cluster)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke("kmeans_assign", &self.store, args, Output::Cluster)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
