//! `COPY ... TO 'file'` writes to a temporary name beside the target and moves it over the
//! target only once the COPY has succeeded, so a failed or cancelled export leaves the
//! previous file whole and no half-written one (SPEC section 4, as `CREATE MODEL` does).

use std::path::{Path, PathBuf};

use datafusion::common::{Result, exec_datafusion_err};
use datafusion::sql::parser::{CopyToStatement, Statement as DFStatement};

/// A COPY that writes to `temp` until [`PendingCopy::commit`] moves it to `target`.
/// Dropping it uncommitted (an error, Ctrl-C) removes the temporary file.
#[derive(Debug)]
pub struct PendingCopy {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PendingCopy {
    /// Points a `COPY` to one local file at a temporary name beside it. Folders, partitioned
    /// exports and object-store URLs are left as they are (`None`): DataFusion writes those
    /// as many files, or through the store's own multipart upload that completes at the end.
    pub fn redirect(statement: &mut DFStatement) -> Option<PendingCopy> {
        let DFStatement::CopyTo(copy) = statement else {
            return None;
        };
        if !writes_one_local_file(copy) {
            return None;
        }
        let target = PathBuf::from(&copy.target);
        let temp = temporary_name(&target)?;
        copy.target = temp.to_str()?.to_string();
        Some(PendingCopy { temp, target, committed: false })
    }

    /// The file the COPY is for.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the finished file over the target.
    pub fn commit(mut self) -> Result<()> {
        self.committed = true;
        // A COPY of no rows may write no file; then there is nothing to move.
        if !self.temp.exists() {
            return Ok(());
        }
        std::fs::rename(&self.temp, &self.target).map_err(|e| {
            let _ = std::fs::remove_file(&self.temp);
            exec_datafusion_err!("COPY: cannot replace {}: {e}", self.target.display())
        })
    }
}

impl Drop for PendingCopy {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// DataFusion's own rule for a single output file (`FileOutputMode::Automatic`): no
/// partitioning, no trailing slash and a file extension, unless `single_file_output` says.
fn writes_one_local_file(copy: &CopyToStatement) -> bool {
    let target = copy.target.as_str();
    if !copy.partitioned_by.is_empty() || target.contains("://") || target.ends_with(['/', '\\']) {
        return false;
    }
    let single_file_option = copy.options.iter().find(|(key, _)| key.eq_ignore_ascii_case("single_file_output"));
    let single = match single_file_option {
        Some((_, value)) => value.to_string().trim_matches('\'').eq_ignore_ascii_case("true"),
        None => Path::new(target).extension().is_some(),
    };
    single && !Path::new(target).is_dir()
}

/// `dir/name.csv` becomes `dir/.name.segsql-tmp-<pid>.csv`: hidden, unique to this process,
/// and with the same extensions, since COPY without STORED AS infers the format from them.
fn temporary_name(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?.to_str()?;
    // The first dot after the first character: `.hidden.csv` keeps `.hidden` as its stem.
    let split = name.char_indices().skip(1).find(|&(_, c)| c == '.').map_or(name.len(), |(at, _)| at);
    let (stem, extensions) = name.split_at(split);
    let temp = format!(".{stem}.segsql-tmp-{}{extensions}", std::process::id());
    Some(target.with_file_name(temp))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy_of(sql: &str) -> DFStatement {
        datafusion::sql::parser::DFParser::parse_sql(sql).unwrap().pop_front().unwrap()
    }

    #[test]
    fn temporary_names_keep_the_extensions_beside_the_target() {
        let pid = std::process::id();
        assert_eq!(temporary_name(Path::new("out/a.csv")), Some(PathBuf::from(format!("out/.a.segsql-tmp-{pid}.csv"))));
        assert_eq!(temporary_name(Path::new("a.csv.gz")), Some(PathBuf::from(format!(".a.segsql-tmp-{pid}.csv.gz"))));
        assert_eq!(
            temporary_name(Path::new(".h.parquet")),
            Some(PathBuf::from(format!("..h.segsql-tmp-{pid}.parquet")))
        );
    }

    #[test]
    fn only_local_single_files_are_redirected() {
        let mut one = copy_of("COPY (SELECT 1) TO 'x/out.parquet'");
        let pending = PendingCopy::redirect(&mut one).expect("a single file");
        let DFStatement::CopyTo(copy) = &one else { panic!("still a COPY") };
        assert!(copy.target.starts_with("x/.out.segsql-tmp-") && copy.target.ends_with(".parquet"), "{}", copy.target);
        assert_eq!(pending.target, PathBuf::from("x/out.parquet"));
        for sql in [
            "COPY (SELECT 1 AS a) TO 'folder/' STORED AS PARQUET",
            "COPY (SELECT 1 AS a) TO 'noext' STORED AS CSV",
            "COPY (SELECT 1 AS a) TO 's3://bucket/out.parquet'",
            "COPY (SELECT 1 AS a) TO 'parts.parquet' PARTITIONED BY (a)",
            "COPY (SELECT 1 AS a) TO 'dir.csv' OPTIONS ('single_file_output' 'false')",
            "SELECT 1",
        ] {
            let mut statement = copy_of(sql);
            assert!(PendingCopy::redirect(&mut statement).is_none(), "{sql}");
        }
        let mut forced = copy_of("COPY (SELECT 1 AS a) TO 'noext' STORED AS CSV OPTIONS ('single_file_output' 'true')");
        assert!(PendingCopy::redirect(&mut forced).is_some());
    }
}
