//! `kmeans_distance('model_name', features)`: scores rows with a saved k-means model.

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
        "The Euclidean distance from each row to its nearest centroid under a model made by CREATE MODEL, in the model's (standardized) feature space: small for typical members of a segment, large for outliers. Scaling, NULL handling and the feature check are as for kmeans_assign.",
        "kmeans_distance('model_name', features)",
    )
    .with_argument("model_name", "The model's name, a constant string.")
    .with_argument("features", "An array of numbers in the model's feature order.")
    .with_sql_example(
        "CREATE OR REPLACE MODEL customer_segments\n  USING kmeans (k = 4, standardize = 'zscore')\n  AS SELECT recency_days, frequency, monetary FROM rfm(sample.orders, customer_id, order_ts, amount);\nSELECT customer_id, round(kmeans_distance('customer_segments', [recency_days, frequency, monetary]), 3) AS distance\nFROM rfm(sample.orders, customer_id, order_ts, amount)\nORDER BY distance DESC LIMIT 5;",
    )
    .build()
});

#[derive(Debug)]
pub struct KMeansDistance {
    signature: Signature,
    store: Arc<ModelStore>,
}

impl KMeansDistance {
    pub fn udf(store: Arc<ModelStore>) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(KMeansDistance { signature: Signature::user_defined(Volatility::Stable), store }))
    }
}

impl PartialEq for KMeansDistance {
    fn eq(&self, other: &Self) -> bool {
        store_key(&self.store) == store_key(&other.store)
    }
}

impl Eq for KMeansDistance {}

impl Hash for KMeansDistance {
    fn hash<H: Hasher>(&self, state: &mut H) {
        store_key(&self.store).hash(state);
    }
}

impl ScalarUDFImpl for KMeansDistance {
    fn name(&self) -> &str {
        "kmeans_distance"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        coerce("kmeans_distance", arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("kmeans_distance: return_field_from_args is used instead")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        return_field("kmeans_distance", &self.store, args, Output::Distance)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        invoke("kmeans_distance", &self.store, args, Output::Distance)
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}
