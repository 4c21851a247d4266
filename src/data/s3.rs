//! S3 lakes: `s3://bucket/...` anywhere a path goes, with credentials and endpoint from the
//! standard AWS environment variables or from `OPTIONS ('aws.…' …)`, as datafusion-cli
//! takes them.
//!
//! A bucket's client is made the first time a location in it is used, so `FROM
//! 's3://…'`, `COPY … TO 's3://…'` and `CREATE EXTERNAL TABLE` need no setup statement.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use datafusion::common::{DataFusionError, Result, exec_datafusion_err, plan_err};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use url::Url;

/// The object stores of a session: local files, plus an S3 client per bucket made on
/// first use from the environment.
#[derive(Debug, Default)]
pub struct LakeRegistry {
    stores: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for LakeRegistry {
    fn register_store(&self, url: &Url, store: Arc<dyn ObjectStore>) -> Option<Arc<dyn ObjectStore>> {
        self.stores.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.stores.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.stores.get_store(url) {
            return Ok(store);
        }
        if url.scheme() != "s3" {
            return plan_err!(
                "{url}: segsql reads local paths and s3:// locations; {} is not a scheme it knows",
                url.scheme()
            );
        }
        let store = s3_store(url, &HashMap::new())?;
        self.stores.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

/// An S3 client for the bucket of `url`: the AWS environment variables, then `options`
/// (`aws.access_key_id`, `aws.secret_access_key`, `aws.session_token`, `aws.region`,
/// `aws.endpoint`, `aws.allow_http`, `aws.skip_signature`) on top.
pub fn s3_store(url: &Url, options: &HashMap<String, String>) -> Result<Arc<dyn ObjectStore>> {
    let Some(bucket) = url.host_str().filter(|b| !b.is_empty()) else {
        return plan_err!("{url}: an S3 location names its bucket, as in s3://bucket/prefix/");
    };
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let mut sorted: Vec<(&String, &String)> = options.iter().collect();
    sorted.sort();
    for (key, value) in sorted {
        let Some(name) = key.strip_prefix("aws.") else {
            continue;
        };
        let config = AmazonS3ConfigKey::from_str(&format!("aws_{name}")).map_err(|_| {
            DataFusionError::Plan(format!(
                "OPTIONS: '{key}' is not an S3 setting; use aws.access_key_id, aws.secret_access_key, \
                 aws.session_token, aws.region, aws.endpoint, aws.allow_http or aws.skip_signature"
            ))
        })?;
        builder = builder.with_config(config, value);
    }
    let store = builder.build().map_err(|e| exec_datafusion_err!("{url}: cannot set up the S3 client: {e}"))?;
    Ok(Arc::new(store))
}

/// Takes the `aws.*` entries out of `CREATE EXTERNAL TABLE`'s options (DataFusion's own
/// reader would reject them) and registers the bucket's client built with them.
pub fn register_from_options(
    registry: &dyn ObjectStoreRegistry,
    location: &str,
    options: &mut Vec<(String, String)>,
) -> Result<()> {
    let (aws, rest): (Vec<_>, Vec<_>) = std::mem::take(options).into_iter().partition(|(k, _)| k.starts_with("aws."));
    *options = rest;
    if aws.is_empty() {
        return Ok(());
    }
    let url = Url::parse(location).map_err(|e| exec_datafusion_err!("{location}: not a URL: {e}"))?;
    if url.scheme() != "s3" {
        return plan_err!("OPTIONS ('aws.…') apply to s3:// locations, not {location}");
    }
    let store = s3_store(&url, &aws.into_iter().collect())?;
    registry.register_store(&url, store);
    Ok(())
}

/// True for a location on an object store rather than a local path.
pub fn is_url(location: &str) -> bool {
    location.starts_with("s3://")
}

/// An object store's error in a sentence a user can act on: a refused credential, a missing
/// bucket or an endpoint that does not answer, rather than the client's debug text.
pub fn explain(error: &object_store::Error) -> String {
    let text = error.to_string();
    let lower = text.to_lowercase();
    if lower.contains("signaturedoesnotmatch")
        || lower.contains("invalidaccesskeyid")
        || lower.contains("403 forbidden")
        || lower.contains("access denied")
        || lower.contains("accessdenied")
    {
        return format!(
            "the S3 server refused the credentials (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or OPTIONS aws.access_key_id and aws.secret_access_key): {text}"
        );
    }
    if lower.contains("nosuchbucket") {
        return format!("the bucket does not exist: {text}");
    }
    if lower.contains("connect")
        || lower.contains("error sending request")
        || lower.contains("dns")
        || lower.contains("timed out")
        || lower.contains("connection refused")
    {
        return format!("the S3 endpoint does not answer (check AWS_ENDPOINT_URL, or OPTIONS aws.endpoint): {text}");
    }
    text
}

/// An object store's error for the shell: the `s3://` location the request was for, then
/// what went wrong.
pub fn object_store_message(error: &object_store::Error) -> String {
    let text = error.to_string();
    match location_in(&text) {
        Some(location) => format!("{location}: {}", explain(error)),
        None => explain(error),
    }
}

/// The `s3://bucket/key` a failed request was for, read from the request URL in the
/// client's message (`Error performing GET http://host/bucket/key?prefix=...`).
fn location_in(text: &str) -> Option<String> {
    let start = text.find(" http://").or_else(|| text.find(" https://"))? + 1;
    let token = text[start..].split_whitespace().next()?;
    let url = Url::parse(token).ok()?;
    let mut location = format!("s3:/{}", url.path());
    if let Some((_, prefix)) = url.query_pairs().find(|(k, _)| k == "prefix") {
        location = format!("{}/{prefix}", location.trim_end_matches('/'));
    }
    Some(location)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_from_request_urls() {
        let text = "Generic S3 error: Error performing HEAD http://127.0.0.1:1/out/revenue.parquet in 2.2s";
        assert_eq!(location_in(text).as_deref(), Some("s3://out/revenue.parquet"));
        let text = "Error performing GET http://127.0.0.1:9/lake?delimiter=%2F&list-type=2&prefix=shop%2F in 3ms";
        assert_eq!(location_in(text).as_deref(), Some("s3://lake/shop/"));
        assert_eq!(location_in("no url here"), None);
    }
}
