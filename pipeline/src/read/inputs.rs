//! Turning command-line input arguments (paths and globs) into a file list.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use super::error::ReadError;

/// Expands input arguments into files, in a deterministic order.
///
/// * `-` stands for stdin and is passed through.
/// * An existing file is taken as is, even if its name contains glob characters.
/// * Otherwise an argument containing `*`, `?` or `[` is a glob: its matching files are taken
///   in sorted order (directories it matches are skipped; like a shell, `*` does not match a
///   leading dot). A glob that matches no file is an error, since it is almost always a typo.
/// * Anything else that does not exist is an error naming it; a directory is an error too.
///
/// A file named by several arguments is listed once, at its first position, so overlapping
/// globs cannot feed the same data twice.
pub fn expand_inputs(patterns: &[String]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |path: PathBuf, files: &mut Vec<PathBuf>| {
        if seen.insert(path.clone()) {
            files.push(path);
        }
    };
    for pattern in patterns {
        if pattern == "-" {
            add(PathBuf::from("-"), &mut files);
            continue;
        }
        match std::fs::metadata(pattern) {
            Ok(meta) if meta.is_dir() => {
                return Err(ReadError::IsDirectory {
                    path: pattern.clone(),
                })
            }
            Ok(_) => {
                add(PathBuf::from(pattern), &mut files);
                continue;
            }
            Err(_) if is_glob(pattern) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(ReadError::NotFound {
                    path: pattern.clone(),
                })
            }
            Err(source) => {
                return Err(ReadError::Open {
                    path: pattern.clone(),
                    source,
                })
            }
        }
        for path in glob_files(pattern)? {
            add(path, &mut files);
        }
    }
    Ok(files)
}

fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '['])
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, ReadError> {
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let entries = glob::glob_with(pattern, options).map_err(|err| ReadError::InvalidPattern {
        pattern: pattern.to_string(),
        message: err.to_string(),
    })?;
    let mut matches = Vec::new();
    for entry in entries {
        let path = entry.map_err(|err| ReadError::Glob {
            pattern: pattern.to_string(),
            path: err.path().display().to_string(),
            source: err.into(),
        })?;
        if !Path::new(&path).is_dir() {
            matches.push(path);
        }
    }
    if matches.is_empty() {
        return Err(ReadError::NoMatch {
            pattern: pattern.to_string(),
        });
    }
    matches.sort();
    Ok(matches)
}
