//! What BI tools and drivers ask a PostgreSQL server at connect, answered as one would.
//!
//! SQLAlchemy's dialect reads the server version from `SELECT pg_catalog.version()` with a
//! `PostgreSQL N.N` pattern and stops if it does not match; DataFusion's own `version()`
//! says "Apache DataFusion ...". `current_setting` is how JDBC-based tools and notebooks read
//! settings. Both exist only in served sessions: the shell keeps DataFusion's `version()`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, Int32Array, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

/// The PostgreSQL release whose protocol and catalog the server speaks.
pub const PG_VERSION: &str = "16.6";

/// `version()`'s answer.
pub fn version_text() -> String {
    format!(
        "PostgreSQL {PG_VERSION} (segsql {} on Apache DataFusion {})",
        env!("CARGO_PKG_VERSION"),
        datafusion::DATAFUSION_VERSION
    )
}

/// Registers `version()`, `current_setting(name)` and `to_regtype(name)` in a served session.
pub fn register(ctx: &SessionContext) {
    ctx.register_udf(ScalarUDF::new_from_impl(Version::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(CurrentSetting::new()));
    ctx.register_udf(ScalarUDF::new_from_impl(ToRegtype::new()));
}

/// The types `to_regtype` knows, with their PostgreSQL OIDs (the ones `pg_type` lists).
const TYPE_OIDS: &[(&str, i32)] = &[
    ("boolean", 16),
    ("bool", 16),
    ("bytea", 17),
    ("bigint", 20),
    ("int8", 20),
    ("smallint", 21),
    ("int2", 21),
    ("integer", 23),
    ("int", 23),
    ("int4", 23),
    ("text", 25),
    ("json", 114),
    ("real", 700),
    ("float4", 700),
    ("double precision", 701),
    ("float8", 701),
    ("character varying", 1043),
    ("varchar", 1043),
    ("date", 1082),
    ("time", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("uuid", 2950),
    ("jsonb", 3802),
];

/// `to_regtype(name)`: a type's OID, or NULL for a type this server does not have (psycopg
/// asks for `hstore` and friends this way when SQLAlchemy connects).
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToRegtype {
    signature: Signature,
}

impl ToRegtype {
    fn new() -> ToRegtype {
        ToRegtype { signature: Signature::exact(vec![DataType::Utf8], Volatility::Stable) }
    }
}

impl ScalarUDFImpl for ToRegtype {
    fn name(&self) -> &str {
        "to_regtype"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let names: ArrayRef = args.args[0].to_array(args.number_rows)?;
        let names = as_string_array(&names)?;
        let oids: Int32Array = names
            .iter()
            .map(|name| {
                let name = name?.trim().trim_start_matches("pg_catalog.").to_ascii_lowercase();
                TYPE_OIDS.iter().find(|(n, _)| *n == name).map(|(_, oid)| *oid)
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Version {
    signature: Signature,
}

impl Version {
    fn new() -> Version {
        Version { signature: Signature::exact(vec![], Volatility::Stable) }
    }
}

impl ScalarUDFImpl for Version {
    fn name(&self) -> &str {
        "version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(version_text()))))
    }
}

/// Settings a PostgreSQL client may read, with the values this server works by. Names are
/// matched without regard to case, as PostgreSQL does.
const SETTINGS: &[(&str, &str)] = &[
    ("server_version", PG_VERSION),
    ("server_version_num", "160006"),
    ("server_encoding", "UTF8"),
    ("client_encoding", "UTF8"),
    ("standard_conforming_strings", "on"),
    ("integer_datetimes", "on"),
    ("datestyle", "ISO, MDY"),
    ("intervalstyle", "postgres"),
    ("timezone", "UTC"),
    ("search_path", "public"),
    ("default_transaction_isolation", "read committed"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
    ("default_transaction_read_only", "off"),
    ("max_identifier_length", "63"),
    ("max_index_keys", "32"),
    ("lc_collate", "C"),
    ("lc_ctype", "C"),
    ("is_superuser", "on"),
];

#[derive(Debug, PartialEq, Eq, Hash)]
struct CurrentSetting {
    signature: Signature,
}

impl CurrentSetting {
    fn new() -> CurrentSetting {
        CurrentSetting {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8, DataType::Boolean]),
                ],
                Volatility::Stable,
            ),
        }
    }
}

impl ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types.len() {
            1 => Ok(vec![DataType::Utf8]),
            2 => Ok(vec![DataType::Utf8, DataType::Boolean]),
            n => plan_err!("current_setting: takes a setting's name (and missing_ok), not {n} arguments"),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let missing_ok = match args.args.get(1) {
            Some(ColumnarValue::Scalar(ScalarValue::Boolean(Some(ok)))) => *ok,
            _ => false,
        };
        let rows = args.number_rows;
        let names: ArrayRef = args.args[0].to_array(rows)?;
        let names = as_string_array(&names)?;
        let mut out = StringBuilder::with_capacity(names.len(), names.len() * 8);
        for row in 0..names.len() {
            if names.is_null(row) {
                out.append_null();
                continue;
            }
            let name = names.value(row);
            let lower = name.to_ascii_lowercase();
            let value =
                SETTINGS.iter().find(|(key, _)| *key == lower).map(|(_, value)| value.to_string()).or_else(|| {
                    args.config_options
                        .entries()
                        .into_iter()
                        .find(|entry| entry.key == lower)
                        .map(|entry| entry.value.unwrap_or_default())
                });
            match value {
                Some(value) => out.append_value(value),
                None if missing_ok => out.append_null(),
                None => return exec_err!("current_setting: unrecognized configuration parameter \"{name}\""),
            }
        }
        let array: ArrayRef = Arc::new(out.finish());
        Ok(if rows == 1 && matches!(args.args[0], ColumnarValue::Scalar(_)) {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}
