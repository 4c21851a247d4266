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
    explain_text(error.to_string())
}

/// [`explain`] of an object store error's text (a worker sends its errors as text).
fn explain_text(text: String) -> String {
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
    object_store_text_message(error.to_string())
}

fn object_store_text_message(text: String) -> String {
    match location_in(&text) {
        Some(location) => format!("{location}: {}", explain_text(text)),
        None => explain_text(text),
    }
}

/// A message that carries an object store's error as text, wrapped by the Parquet reader
/// ("Parquet error: ... Object Store error: ...") and by a worker ("worker HOST:PORT: ..."),
/// told as [`object_store_message`] tells it, after the worker's name.
pub fn explain_wrapped(message: String) -> String {
    const MARK: &str = "Object Store error: ";
    let Some(at) = message.find(MARK) else {
        return message;
    };
    let store = &message[at + MARK.len()..];
    if location_in(store).is_none() {
        // Not a request's failure (no URL to name): the whole text says more.
        return message;
    }
    let worker = message.strip_prefix("worker ").and_then(|rest| rest.split_once(": ")).map(|(w, _)| w);
    let told = object_store_text_message(store.to_string());
    match worker {
        Some(worker) => format!("worker {worker}: {told}"),
        None => told,
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
    fn wrapped_object_store_errors_name_the_worker_location_and_cause() {
        let text = "worker 127.0.0.1:33075: Parquet error: Parquet error: Failed to fetch metadata for file \
                    orders.parquet: Object Store error: The operation lacked the necessary privileges to complete \
                    for path orders.parquet: Error performing GET http://127.0.0.1:40941/shop/orders.parquet in \
                    4.9ms - Server returned non-2xx status code: 403 Forbidden: <Error><Code>SignatureDoesNotMatch\
                    </Code></Error>";
        let told = explain_wrapped(text.to_string());
        assert!(
            told.starts_with("worker 127.0.0.1:33075: s3://shop/orders.parquet: the S3 server refused the credentials"),
            "{told}"
        );
        let local = text.strip_prefix("worker 127.0.0.1:33075: ").unwrap_or(text);
        assert!(explain_wrapped(local.to_string()).starts_with("s3://shop/orders.parquet: the S3 server refused"));
        // Without a request URL the message stays whole.
        let plain = "Parquet error: Object Store error: Generic LocalFileSystem error: gone";
        assert_eq!(explain_wrapped(plain.to_string()), plain);
    }

    #[test]
    fn locations_from_request_urls() {
        let text = "Generic S3 error: Error performing HEAD http://127.0.0.1:1/out/revenue.parquet in 2.2s";
        assert_eq!(location_in(text).as_deref(), Some("s3://out/revenue.parquet"));
        let text = "Error performing GET http://127.0.0.1:9/lake?delimiter=%2F&list-type=2&prefix=shop%2F in 3ms";
        assert_eq!(location_in(text).as_deref(), Some("s3://lake/shop/"));
        assert_eq!(location_in("no url here"), None);
    }
}
