//! What the CLV scoring functions share: read the models named by constant strings (each
//! once per batch, from the store's cache), coerce the numeric arguments to DOUBLE, and
//! score row by row. A function is a [`Scoring`]: its name, the kinds of model each model
//! argument takes, its numeric arguments and its kernel; nothing else travels in a plan.
//!
//! `p_alive`, `expected_purchases` and `clv` side by side, as a report scores them, all take
//! P(alive) of the same histories: the first to score a batch leaves its P(alive) column to
//! the next on the same thread, which is given it when its model file and its frequency,
//! recency and T arrays are the very same (the column holds those arrays, so their buffers
//! cannot be freed and reused meanwhile). The values are the bits each would compute.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{Array, AsArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::memo::{Memo, Planes};
use crate::common::constant::text_value;
use crate::model::ModelStore;
use segsql_algo::clv::data::check_history;
use segsql_algo::clv::gamma_gamma::GammaGamma;
use segsql_algo::clv::{TimeUnit, TransactionScorer, Transactions};
use segsql_algo::model::ClvModel;
use segsql_algo::parallel::{chunk_count, chunk_range, map_chunks};

/// Rows a scoring thread takes at a time.
const SCORE_CHUNK: usize = 1024;

/// The most numeric arguments a scoring function takes.
pub const MAX_NUMBERS: usize = 8;

/// A row's value from the models, the numbers, the row's P(alive) if known, and the memo
/// planes its chunk has found: `Ok(None)` is NULL, `Err` a message.
pub type Kernel = fn(&[Loaded], &[f64], &mut Alive, &mut Planes) -> std::result::Result<Option<f64>, String>;

/// P(alive) of a row's history under the first model argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Alive {
    /// Not computed for this row yet.
    Unknown,
    /// Computed, the history checked: `None` where it cannot be.
    Known(Option<f64>),
}

/// A model argument: its parameters taken out once (not looked up by name on every row),
/// and the memo of values scored from it.
pub struct Loaded {
    pub transactions: Option<Transactions>,
    pub spend: Option<GammaGamma>,
    pub unit: TimeUnit,
    pub memo: Arc<Memo>,
}

impl Loaded {
    fn new(model: &ClvModel, memo: Arc<Memo>) -> Loaded {
        memo.transactions.get_or_init(|| model.transactions().map(TransactionScorer::new));
        Loaded {
            transactions: model.transactions(),
            spend: model.gamma_gamma(),
            unit: model.time_unit().unwrap_or(TimeUnit::Day),
            memo,
        }
    }

    /// [`Transactions::p_alive`] from the tables made once per model file.
    pub fn p_alive(&self, frequency: f64, recency: f64, age: f64) -> Option<f64> {
        self.memo.transactions.get()?.as_ref()?.p_alive(frequency, recency, age)
    }

    /// The row's P(alive): given, or computed after checking the history (whose error is
    /// then the row's) and kept in `alive` for the functions after this one.
    pub fn alive(
        &self,
        alive: &mut Alive,
        frequency: f64,
        recency: f64,
        age: f64,
    ) -> std::result::Result<Option<f64>, String> {
        if let Alive::Known(p) = *alive {
            return Ok(p);
        }
        history(frequency, recency, age)?;
        let p = self.p_alive(frequency, recency, age);
        *alive = Alive::Known(p);
        Ok(p)
    }
}

/// One CLV scoring function.
pub struct Scoring {
    pub name: &'static str,
    /// For each leading model argument, the kinds it takes.
    pub models: &'static [&'static [&'static str]],
    /// The numeric arguments every call gives, by name.
    pub numbers: &'static [&'static str],
    /// Numeric arguments that may be left off, with their defaults.
    pub optional: &'static [(&'static str, f64)],
    /// Where among the numbers frequency, recency and T are, for a function that takes
    /// P(alive) under its first model ([`Loaded::alive`]).
    pub alive: Option<[usize; 3]>,
    pub syntax: &'static str,
    /// The value for one row (the models in argument order, then every number, defaults
    /// filled in); `Ok(None)` gives NULL, `Err` a message to prefix with the name.
    pub score: Kernel,
    pub doc: &'static LazyLock<Documentation>,
}

/// A [`Scoring`] as a DataFusion scalar function.
pub struct ScoringUdf {
    spec: &'static Scoring,
    signature: Signature,
}

impl ScoringUdf {
    pub fn udf(spec: &'static Scoring) -> Arc<ScalarUDF> {
        Arc::new(ScalarUDF::from(ScoringUdf { spec, signature: Signature::user_defined(Volatility::Stable) }))
    }
}

// A function is its name: two with the same name are the same function.
impl PartialEq for ScoringUdf {
    fn eq(&self, other: &Self) -> bool {
        self.spec.name == other.spec.name
    }
}
impl Eq for ScoringUdf {}
impl std::hash::Hash for ScoringUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.spec.name.hash(state);
    }
}
impl std::fmt::Debug for ScoringUdf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ScoringUdf({})", self.spec.name)
    }
}

fn model_name(spec: &Scoring, index: usize, value: Option<&ScalarValue>) -> Result<String> {
    match value.and_then(text_value) {
        Some(name) => Ok(name.to_string()),
        None => plan_err!(
            "{}: argument {} must be a model's name as a constant string, such as 'buyers'; {}",
            spec.name,
            index + 1,
            spec.syntax
        ),
    }
}

impl ScalarUDFImpl for ScoringUdf {
    fn name(&self) -> &str {
        self.spec.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let spec = self.spec;
        let (models, least) = (spec.models.len(), spec.models.len() + spec.numbers.len());
        let most = least + spec.optional.len();
        if arg_types.len() < least || arg_types.len() > most {
            let count = if least == most { format!("{least}") } else { format!("{least} to {most}") };
            return plan_err!("{}: expected {count} arguments, {}; got {}", spec.name, spec.syntax, arg_types.len());
        }
        let mut out = Vec::with_capacity(arg_types.len());
        for (i, data_type) in arg_types.iter().enumerate() {
            if i < models {
                if !(data_type.is_null()
                    || matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
                {
                    return plan_err!(
                        "{}: argument {} must be a model's name as a string, got {data_type}",
                        spec.name,
                        i + 1
                    );
                }
                out.push(data_type.clone());
            } else {
                let role = spec.numbers.get(i - models).copied().unwrap_or_else(|| spec.optional[i - least].0);
                if !(data_type.is_numeric() || data_type.is_null()) {
                    return plan_err!("{}: {role} must be a number, got {data_type}", spec.name);
                }
                out.push(DataType::Float64);
            }
        }
        Ok(out)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        for index in 0..self.spec.models.len() {
            model_name(self.spec, index, args.scalar_arguments.get(index).copied().flatten())?;
        }
        Ok(Arc::new(Field::new(self.spec.name, DataType::Float64, true)))
    }

    /// Loads the models while planning, so a misspelt name or a model of the wrong kind
    /// fails before any data is read.
    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        let store = ModelStore::for_session(info.config_options());
        for (index, kinds) in self.spec.models.iter().enumerate() {
            if let Some(Expr::Literal(value, _)) = args.get(index) {
                store.load_clv(self.spec.name, &model_name(self.spec, index, Some(value))?, kinds)?;
            }
        }
        Ok(ExprSimplifyResult::Original(args))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let spec = self.spec;
        let store = ModelStore::for_session(&args.config_options);
        let mut models = Vec::with_capacity(spec.models.len());
        for (index, kinds) in spec.models.iter().enumerate() {
            let name = match &args.args[index] {
                ColumnarValue::Scalar(value) => model_name(spec, index, Some(value))?,
                ColumnarValue::Array(_) => model_name(spec, index, None)?,
            };
            let (model, memo) = store.load_clv(spec.name, &name, kinds)?;
            models.push(Loaded::new(&model, memo));
        }
        // Every argument as a full-length array: constants too (values_to_arrays would give
        // one row when all the numbers are constants).
        let arrays: Vec<_> =
            args.args[spec.models.len()..].iter().map(|a| a.to_array(args.number_rows)).collect::<Result<_>>()?;
        let columns: Vec<&Float64Array> = arrays.iter().map(|a| a.as_primitive::<Float64Type>()).collect();
        let width = spec.numbers.len() + spec.optional.len();
        let histories =
            spec.alive.map(|at| AliveKey { memo: models[0].memo.id(), arrays: at.map(|i| columns[i].clone()) });
        let known = histories.as_ref().and_then(recent_alive);
        // Rows are scored in parallel chunks (a CLV is a dozen hypergeometric sums, and a
        // file read as one partition would otherwise score on one core); each row's value
        // depends on that row only, so the thread count changes no bit.
        let rows = args.number_rows;
        let parts = map_chunks(crate::common::kernel_threads(), chunk_count(rows, SCORE_CHUNK), |c| {
            let mut values = [0.0; MAX_NUMBERS];
            for (slot, (_, default)) in values[spec.numbers.len()..].iter_mut().zip(spec.optional) {
                *slot = *default;
            }
            let mut planes = Planes::default();
            let mut out = Vec::with_capacity(SCORE_CHUNK);
            let mut alive_out = Vec::with_capacity(if histories.is_some() { SCORE_CHUNK } else { 0 });
            for row in chunk_range(c, SCORE_CHUNK, rows) {
                let mut alive = known.as_ref().map_or(Alive::Unknown, |k| k[row]);
                let value = if columns.iter().any(|column| column.is_null(row)) {
                    None
                } else {
                    for (slot, column) in values.iter_mut().zip(&columns) {
                        *slot = column.value(row);
                    }
                    (spec.score)(&models, &values[..width], &mut alive, &mut planes)?
                };
                out.push(value);
                if histories.is_some() {
                    alive_out.push(alive);
                }
            }
            Ok::<_, String>((out, alive_out))
        });
        let mut out = Vec::with_capacity(rows);
        let mut alive = Vec::with_capacity(if histories.is_some() { rows } else { 0 });
        for part in parts {
            match part {
                Ok((values, states)) => {
                    out.extend(values);
                    alive.extend(states);
                }
                Err(message) => return exec_err!("{}: {message}", spec.name),
            }
        }
        if let Some(key) = histories {
            RECENT_ALIVE.with_borrow_mut(|recent| *recent = Some((key, Arc::new(alive))));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.spec.doc)
    }
}

/// Whose P(alive) column a thread scored last: the model file's memo and the frequency,
/// recency and T arrays.
struct AliveKey {
    memo: u64,
    arrays: [Float64Array; 3],
}

thread_local! {
    static RECENT_ALIVE: RefCell<Option<(AliveKey, Arc<Vec<Alive>>)>> = const { RefCell::new(None) };
}

/// The P(alive) column this thread left for the same model file and the same arrays.
fn recent_alive(key: &AliveKey) -> Option<Arc<Vec<Alive>>> {
    RECENT_ALIVE.with_borrow(|recent| {
        let (held, column) = recent.as_ref()?;
        let same =
            held.memo == key.memo && held.arrays.iter().zip(&key.arrays).all(|(a, b)| a.to_data().ptr_eq(&b.to_data()));
        same.then(|| Arc::clone(column))
    })
}

/// A customer history as the models take it, checked as fitting checks it.
pub fn history(frequency: f64, recency: f64, age: f64) -> std::result::Result<(), String> {
    if !(frequency.is_finite() && recency.is_finite() && age.is_finite()) {
        return Err(format!("frequency, recency and T must be finite, got {frequency}, {recency}, {age}"));
    }
    check_history(frequency, recency, age).map_err(|e| e.to_string())
}
