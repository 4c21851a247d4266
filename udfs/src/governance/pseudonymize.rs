//! `pseudonymize(value, key)`: a keyed, stable pseudonym (HMAC-SHA256) for an identifier.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::function::GOVERNANCE_SECTION;

/// Shorter keys make pseudonyms reversible by trying every key.
pub const MIN_KEY_BYTES: usize = 16;

static DOC: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        GOVERNANCE_SECTION,
        "A pseudonym for an identifier: the lowercase hex HMAC-SHA256 of the value's text under \
         the key (integers as their decimal text, text as UTF-8, other types as their text \
         form), equal to Python's hmac.new(key, text, sha256).hexdigest(). The same value and key \
         give the same pseudonym in every run and every export, so joins across exports still \
         work, while without the key the id cannot be recovered or checked. Pass the key as a \
         parameter fed from the environment (--param pseudonym_key=\"$KEY\"), never in a \
         checked-in script; it must be at least 16 bytes. NULL stays NULL; a NULL or short key \
         is an error. Pseudonymised data is still personal data under the GDPR.",
        "pseudonymize(value, key)",
    )
    .with_argument("value", "The identifier: an integer or text column such as customer_id or email.")
    .with_argument("key", "The secret key, at least 16 bytes, e.g. '${pseudonym_key}'.")
    .with_sql_example(
        "SELECT pseudonymize(customer_id, 'a-long-secret-key-from-the-env') AS customer_pseudonym, amount\nFROM sample.orders\nLIMIT 3;",
    )
    .build()
});

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Pseudonymize {
    signature: Signature,
}

impl Pseudonymize {
    pub fn udf() -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(Pseudonymize { signature: Signature::user_defined(Volatility::Immutable) }))
    }
}

fn keyed(key: &[u8]) -> Result<Hmac<Sha256>> {
    if key.len() < MIN_KEY_BYTES {
        return exec_err!(
            "pseudonymize: the key has {} bytes; use a secret of at least {MIN_KEY_BYTES} bytes (shorter keys can be found by trying them all)",
            key.len()
        );
    }
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => Ok(mac),
        Err(e) => exec_err!("pseudonymize: {e}"),
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The hex digest of `text` under the prepared key.
fn digest_into(mac: &Hmac<Sha256>, text: &[u8], out: &mut String) {
    let mut mac = mac.clone();
    mac.update(text);
    let bytes = mac.finalize().into_bytes();
    out.clear();
    for byte in bytes {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
}

impl ScalarUDFImpl for Pseudonymize {
    fn name(&self) -> &str {
        "pseudonymize"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [value, key] = arg_types else {
            return plan_err!("pseudonymize: expected pseudonymize(value, key), got {} arguments", arg_types.len());
        };
        // Unsigned integers go as text (their decimal text is the same), so values above
        // i64::MAX are hashed rather than refused by a cast.
        let value = if value.is_signed_integer() { DataType::Int64 } else { DataType::Utf8 };
        match key {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {}
            other => return plan_err!("pseudonymize: key must be text (a secret of at least 16 bytes), got {other}"),
        }
        Ok(vec![value, DataType::Utf8])
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
        // A constant key (the usual case) is prepared once per batch.
        let constant_key = match &args.args[1] {
            ColumnarValue::Scalar(key) => match key {
                ScalarValue::Utf8(Some(k)) | ScalarValue::LargeUtf8(Some(k)) | ScalarValue::Utf8View(Some(k)) => {
                    Some(keyed(k.as_bytes())?)
                }
                _ => {
                    return exec_err!(
                        "pseudonymize: the key is NULL; pass a secret of at least {MIN_KEY_BYTES} bytes, e.g. '${{pseudonym_key}}' with --param pseudonym_key=..."
                    );
                }
            },
            ColumnarValue::Array(_) => None,
        };
        let values = args.args[0].to_array(rows)?;
        let keys = args.args[1].to_array(rows)?;
        let keys = cast(&keys, &DataType::Utf8)?;
        let keys = keys.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(values.len(), values.len() * 64);
        let mut digest = String::with_capacity(64);
        let mut text = String::new();
        let mut each = |row: usize, bytes: &[u8], out: &mut StringBuilder| -> Result<()> {
            match &constant_key {
                Some(mac) => digest_into(mac, bytes, &mut digest),
                None => {
                    if keys.is_null(row) {
                        return exec_err!(
                            "pseudonymize: the key is NULL on row {}; pass a secret of at least {MIN_KEY_BYTES} bytes",
                            row + 1
                        );
                    }
                    digest_into(&keyed(keys.value(row).as_bytes())?, bytes, &mut digest)
                }
            }
            out.append_value(&digest);
            Ok(())
        };
        match values.data_type() {
            DataType::Int64 => {
                let ints = values.as_primitive::<Int64Type>();
                for row in 0..ints.len() {
                    if ints.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    text.clear();
                    let _ = write!(text, "{}", ints.value(row));
                    each(row, text.as_bytes(), &mut out)?;
                }
            }
            _ => {
                let strings: ArrayRef = cast(&values, &DataType::Utf8)?;
                let strings = strings.as_string::<i32>();
                for row in 0..strings.len() {
                    if strings.is_null(row) {
                        out.append_null();
                        continue;
                    }
                    each(row, strings.value(row).as_bytes(), &mut out)?;
                }
            }
        }
        let result: ArrayRef = Arc::new(out.finish());
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?));
        }
        Ok(ColumnarValue::Array(result))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4231_vector_with_a_long_key() {
        // RFC 4231 test case 6: a 131-byte key (hashed first), a 54-byte message.
        let key = [0xaau8; 131];
        let mut out = String::new();
        digest_into(&keyed(&key).unwrap(), b"Test Using Larger Than Block-Size Key - Hash Key First", &mut out);
        assert_eq!(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn short_keys_are_refused() {
        let error = keyed(b"0123456789abcde").unwrap_err().to_string();
        assert!(error.contains("pseudonymize: the key has 15 bytes"), "{error}");
    }
}
