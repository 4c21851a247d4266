//! What the CLV scoring functions share: read the models named by constant strings (each
//! once per batch, from the store's cache), coerce the numeric arguments to DOUBLE, and
//! score chunks of rows. A function is a [`Scoring`]: its name, the kinds of model each model
//! argument takes, its numeric arguments and its kernel; nothing else travels in a plan.
//! A kernel takes a chunk column by column ([`Rows`]): it checks every row in row order
//! first (so the error is the first bad row's, whatever the chunk size), then scores the
//! chunk in loops over the columns, where the memo's reads overlap.
//!
//! `p_alive`, `expected_purchases` and `clv` side by side, as a report scores them, all take
//! P(alive) of the same histories: the first to score a batch leaves its P(alive) column to
//! the next on the same thread, which is given it when its model file and its frequency,
//! recency and T arrays are the very same (the column holds those arrays, so their buffers
//! cannot be freed and reused meanwhile). The values are the bits each would compute.

use std::cell::RefCell;
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Float64Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};

use super::memo::{Memo, Planes};
use crate::common::constant::text_value;
use crate::model::ModelStore;
use segsql_algo::clv::data::{check_history, history_is_fine};
use segsql_algo::clv::gamma_gamma::GammaGamma;
use segsql_algo::clv::{TimeUnit, TransactionScorer, Transactions};
use segsql_algo::model::ClvModel;
use segsql_algo::parallel::{Threads, chunk_range, map_chunks};

/// Rows a scoring thread takes at a time.
const SCORE_CHUNK: usize = 1024;

/// A chunk's values from the models, its rows, their P(alive) where known (to be filled in
/// for the functions after this one), and the memo planes the chunk has found, into `out`
/// (rows with a NULL input are left NULL); `Err` is the first bad row's message.
pub type Kernel = fn(&[Loaded], &Rows, &mut [Alive], &mut Planes, &mut Out) -> std::result::Result<(), String>;

/// A chunk's values, NULL until a kernel puts one: the values and their validity apart, as
/// the result array holds them (not a 16-byte `Option` a row, converted afterwards).
pub struct Out<'a> {
    values: &'a mut [f64],
    valid: &'a mut [bool],
}

impl Out<'_> {
    /// Row `i`'s value; `None` leaves it NULL.
    #[inline]
    pub fn put(&mut self, i: usize, value: Option<f64>) {
        if let Some(value) = value {
            self.values[i] = value;
            self.valid[i] = true;
        }
    }
}

/// A chunk of rows: each numeric argument's values, defaults filled in (a NULL row's values
/// are arbitrary) and whether each row has no NULL input.
pub struct Rows<'a> {
    pub numbers: &'a [&'a [f64]],
    /// Whether each numeric argument is known to be the same on every row (a constant or a
    /// default; a constant inside a history is read as an array and counts as not known).
    pub constant: &'a [bool],
    pub valid: &'a [bool],
}

impl<'a> Rows<'a> {
    /// Whether a check of numeric arguments `which` holds on every row with no NULL input
    /// because they are constants and it holds on the first such row (or there is none): a
    /// kernel then need not make it row by row.
    pub fn constants_pass(&self, which: &[usize], check: impl Fn(usize) -> bool) -> bool {
        which.iter().all(|&n| self.constant[n]) && self.valid().next().is_none_or(check)
    }

    /// The rows with no NULL input.
    pub fn valid(&self) -> impl Iterator<Item = usize> + '_ {
        self.valid.iter().enumerate().filter_map(|(i, valid)| valid.then_some(i))
    }

    /// The numeric arguments from `first` on, `N` of them.
    pub fn columns<const N: usize>(&self, first: usize) -> [&'a [f64]; N] {
        std::array::from_fn(|i| self.numbers[first + i])
    }
}

/// P(alive) of a row's history under the first model argument: not computed yet, or
/// computed with the history checked (`None` where it cannot be). Eight bytes, a column of
/// them passed from function to function: the value's bits, or one of two signalling-NaN
/// patterns for the two states without a value; a NaN value is kept as the quiet NaN, so it
/// can never read as one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alive(u64);

impl Alive {
    pub const UNKNOWN: Alive = Alive(0x7FF4_0000_0000_0001);
    const NONE: Alive = Alive(0x7FF4_0000_0000_0002);

    pub fn known(p: Option<f64>) -> Alive {
        p.map_or(Alive::NONE, |p| Alive(if p.is_nan() { f64::NAN.to_bits() } else { p.to_bits() }))
    }

    pub fn value(self) -> Option<f64> {
        (self != Alive::UNKNOWN && self != Alive::NONE).then(|| f64::from_bits(self.0))
    }

    /// Checks a row's history, unless the function that computed its P(alive) did.
    pub fn check(self, frequency: f64, recency: f64, age: f64) -> std::result::Result<(), String> {
        if self == Alive::UNKNOWN { history(frequency, recency, age) } else { Ok(()) }
    }

    /// Whether [`Alive::check`] passes, without making its message: a kernel checks a whole
    /// chunk this way (the usual chunk has no bad row), and only a chunk that fails again
    /// row by row, for the first bad row's message.
    #[inline]
    pub fn fine(self, frequency: f64, recency: f64, age: f64) -> bool {
        self != Alive::UNKNOWN || history_is_fine(frequency, recency, age)
    }
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

    /// P(alive) of every row with no NULL input that has none yet, kept in `alive` for
    /// the functions after this one. Every such row's history must have been checked
    /// ([`Alive::check`]).
    pub fn fill_alive(&self, rows: &Rows, histories: [&[f64]; 3], alive: &mut [Alive]) {
        if rows.valid().all(|i| alive[i] != Alive::UNKNOWN) {
            return;
        }
        // The chunk's rows together: BG/NBD's exponentials then overlap (p_alive alone A/B
        // 0.88 against row by row).
        let mut p = vec![None; alive.len()];
        if let Some(scorer) = self.memo.transactions.get().and_then(Option::as_ref) {
            scorer.p_alive_many(histories, |i| rows.valid[i] && alive[i] == Alive::UNKNOWN, &mut p);
        }
        for i in rows.valid() {
            if alive[i] == Alive::UNKNOWN {
                alive[i] = Alive::known(p[i]);
            }
        }
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
    /// P(alive) under its first model ([`Loaded::fill_alive`], [`Alive::check`]).
    pub alive: Option<[usize; 3]>,
    pub syntax: &'static str,
    /// The values of a chunk of rows (the models in argument order, then every number,
    /// defaults filled in), put into its `out` (NULL where none is put), `Err` the first bad
    /// row's message, to prefix with the name.
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
        // Every argument as a full-length array, but for a constant that is not part of a
        // history (a horizon, months, a rate) and the defaults of those left off: one chunk's
        // worth of their value, sliced for every chunk.
        let rows = args.number_rows;
        let numbers = &args.args[spec.models.len()..];
        let in_history = |i: usize| spec.alive.is_some_and(|at| at.contains(&i));
        let chunk_rows = rows.min(SCORE_CHUNK);
        let mut sources = numbers
            .iter()
            .enumerate()
            .map(|(i, a)| match a {
                ColumnarValue::Scalar(ScalarValue::Float64(Some(v))) if !in_history(i) => {
                    Ok(Source::Constant(vec![*v; chunk_rows]))
                }
                a => a.to_array(rows).map(Source::Array),
            })
            .collect::<Result<Vec<_>>>()?;
        let defaults = &spec.optional[numbers.len() - spec.numbers.len()..];
        sources.extend(defaults.iter().map(|(_, d)| Source::Constant(vec![*d; chunk_rows])));
        let constant: Vec<bool> = sources.iter().map(|s| matches!(s, Source::Constant(_))).collect();
        let nulls = sources
            .iter()
            .filter_map(Source::array)
            .fold(None, |all: Option<NullBuffer>, c| NullBuffer::union(all.as_ref(), c.nulls()));
        let histories = match spec.alive {
            Some([f, r, t]) => match (sources[f].array(), sources[r].array(), sources[t].array()) {
                (Some(f), Some(r), Some(t)) => {
                    Some(AliveKey { memo: models[0].memo.id(), arrays: [f.clone(), r.clone(), t.clone()] })
                }
                _ => return internal_err!("{}: a history argument was not read as an array", spec.name),
            },
            None => None,
        };
        let known = histories.as_ref().and_then(recent_alive);
        // A CLV is a dozen hypergeometric sums, but they are summed once per distinct key and
        // kept, and the rows, a few arithmetic operations each once their keys are known, are
        // scored on this thread, missing keys too (DataFusion runs a partition per core;
        // threads started for a batch's rows or a chunk's keys cost more than they saved).
        // Pareto/NBD's P(alive) sums two series on every row, with no memo, so its rows are
        // scored in parallel chunks. Each row's value depends on that row only, so the
        // thread count changes no bit.
        let per_row_series = models.first().is_some_and(|m| matches!(m.transactions, Some(Transactions::Pareto(_))));
        let row_threads = if per_row_series { crate::common::kernel_threads() } else { Threads::ONE };
        // Chunks write their rows' values and P(alive) in place.
        let (mut values, mut scored) = (vec![0.0; rows], vec![false; rows]);
        let mut alive = match &known {
            Some(known) => Vec::clone(known),
            None => vec![Alive::UNKNOWN; rows],
        };
        let slots: Vec<_> = values
            .chunks_mut(SCORE_CHUNK)
            .zip(scored.chunks_mut(SCORE_CHUNK))
            .zip(alive.chunks_mut(SCORE_CHUNK))
            .map(|((values, valid), alive)| Mutex::new((Out { values, valid }, alive)))
            .collect();
        let results = map_chunks(row_threads, slots.len(), |c| {
            let range = chunk_range(c, SCORE_CHUNK, rows);
            let chunk: Vec<&[f64]> = sources.iter().map(|s| s.chunk(range.clone())).collect();
            let valid: Vec<bool> = range.map(|row| nulls.as_ref().is_none_or(|n| n.is_valid(row))).collect();
            let rows = Rows { numbers: &chunk, constant: &constant, valid: &valid };
            let mut slot = slots[c].lock();
            let (out, alive) = &mut *slot;
            (spec.score)(&models, &rows, alive, &mut Planes::default(), out)
        });
        drop(slots);
        if let Some(message) = results.into_iter().find_map(std::result::Result::err) {
            return exec_err!("{}: {message}", spec.name);
        }
        if let Some(key) = histories {
            RECENT_ALIVE.with_borrow_mut(|recent| *recent = Some((key, Arc::new(alive))));
        }
        // Most batches have no NULL result: then no bitmap (packing a million flags showed in
        // profiles).
        let nulls = (!scored.iter().all(|s| *s)).then(|| NullBuffer::from(scored));
        Ok(ColumnarValue::Array(Arc::new(Float64Array::new(values.into(), nulls))))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.spec.doc)
    }
}

/// Where a chunk's values of one numeric argument come from.
enum Source {
    /// A column, or a constant in a history (read whole, so that P(alive) columns can be
    /// told apart by their arrays).
    Array(ArrayRef),
    /// A constant or a default: one chunk's worth of its value.
    Constant(Vec<f64>),
}

impl Source {
    fn array(&self) -> Option<&Float64Array> {
        match self {
            Source::Array(a) => Some(a.as_primitive::<Float64Type>()),
            Source::Constant(_) => None,
        }
    }

    fn chunk(&self, range: std::ops::Range<usize>) -> &[f64] {
        match self {
            Source::Array(a) => &a.as_primitive::<Float64Type>().values()[range],
            Source::Constant(v) => &v[..range.len()],
        }
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
#[inline]
pub fn history(frequency: f64, recency: f64, age: f64) -> std::result::Result<(), String> {
    if history_is_fine(frequency, recency, age) {
        return Ok(());
    }
    if !(frequency.is_finite() && recency.is_finite() && age.is_finite()) {
        return Err(format!("frequency, recency and T must be finite, got {frequency}, {recency}, {age}"));
    }
    check_history(frequency, recency, age).map_err(|e| e.to_string())
}
