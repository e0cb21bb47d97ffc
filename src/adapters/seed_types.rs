//! A seed's column types as dbt infers them (dbt_common's agate type tester): each column
//! takes the first of number, date (`%Y-%m-%d`), datetime (`%Y-%m-%d %H:%M:%S`), ISO 8601
//! datetime (with a `T`), boolean (`true`/`false`) and text that every value of the column
//! reads as, `""` and `null` being nulls (a column of nulls only is a number). Each adapter names the types in its SQL
//! ([`Adapter::seed_column_type`](super::Adapter::seed_column_type)), as dbt's adapters do.

use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use crate::error::{Error, Result};

/// The type dbt gives a seed column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedColumn {
    /// Numbers; `decimals` when any has digits after the point (dbt: float, else integer).
    Number {
        decimals: bool,
    },
    Date,
    DateTime,
    Boolean,
    Text,
}

/// The header's names and each column's type.
pub fn infer(path: &Path) -> Result<Vec<(String, SeedColumn)>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    // dbt drops a UTF-8 byte order mark.
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(&bytes);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let invalid = |e: csv::Error| Error::config(path, format!("not a readable CSV file: {e}"));
    let names: Vec<String> = reader
        .headers()
        .map_err(invalid)?
        .iter()
        .map(str::to_string)
        .collect();
    let mut columns: Vec<Candidates> = vec![Candidates::default(); names.len()];
    for record in reader.records() {
        let record = record.map_err(invalid)?;
        for (column, value) in columns.iter_mut().zip(record.iter()) {
            column.see(value);
        }
    }
    Ok(names
        .into_iter()
        .zip(columns.iter().map(Candidates::chosen))
        .collect())
}

/// Which types every value of a column seen so far reads as.
#[derive(Debug, Clone, Copy)]
struct Candidates {
    number: bool,
    decimals: bool,
    date: bool,
    /// `%Y-%m-%d %H:%M:%S`.
    datetime: bool,
    /// ISO 8601, with a `T`.
    iso_datetime: bool,
    boolean: bool,
}

impl Default for Candidates {
    fn default() -> Self {
        Candidates {
            number: true,
            decimals: false,
            date: true,
            datetime: true,
            iso_datetime: true,
            boolean: true,
        }
    }
}

impl Candidates {
    fn see(&mut self, raw: &str) {
        let value = raw.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("null") {
            return;
        }
        if self.number {
            match number_precision(value) {
                Some(precision) => self.decimals |= precision > 0,
                None => self.number = false,
            }
        }
        self.date &= NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok();
        self.datetime &= NaiveDateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S").is_ok();
        self.iso_datetime &= is_iso_datetime(value);
        self.boolean &= value.eq_ignore_ascii_case("true") || value.eq_ignore_ascii_case("false");
    }

    fn chosen(&self) -> SeedColumn {
        if self.number {
            SeedColumn::Number {
                decimals: self.decimals,
            }
        } else if self.date {
            SeedColumn::Date
        } else if self.datetime || self.iso_datetime {
            SeedColumn::DateTime
        } else if self.boolean {
            SeedColumn::Boolean
        } else {
            SeedColumn::Text
        }
    }
}

/// ISO 8601 with a `T` (fractions and an offset allowed).
fn is_iso_datetime(value: &str) -> bool {
    NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || chrono::DateTime::parse_from_rfc3339(value).is_ok()
}

/// The digits after the point if `value` reads as a number as agate reads one (a currency
/// sign and `,` group separators dropped; Python's Decimal syntax: sign, digits with `_`
/// between them, point, exponent), else none.
fn number_precision(value: &str) -> Option<u32> {
    let text: String = value
        .trim_start_matches(['$', '€', '£', '¥'])
        .chars()
        .filter(|c| *c != ',')
        .collect();
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(&text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let digits = |s: &str| {
        !s.is_empty()
            && !s.starts_with('_')
            && !s.ends_with('_')
            && !s.contains("__")
            && s.chars().all(|c| c.is_ascii_digit() || c == '_')
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((w, f)) => (w, f),
        None => (mantissa, ""),
    };
    let whole_ok = whole.is_empty() || digits(whole);
    let fraction_ok = fraction.is_empty() || digits(fraction);
    if !(whole_ok && fraction_ok) || (whole.is_empty() && fraction.is_empty()) {
        return None;
    }
    let exponent: i64 = match exponent {
        Some(e) => {
            let e_digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if !digits(e_digits) {
                return None;
            }
            e.replace('_', "").parse().ok()?
        }
        None => 0,
    };
    let fraction_digits = fraction.chars().filter(char::is_ascii_digit).count() as i64;
    Some((fraction_digits - exponent).max(0) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(csv: &str) -> Vec<SeedColumn> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, csv).unwrap();
        infer(&path).unwrap().into_iter().map(|(_, t)| t).collect()
    }

    /// What dbt-core 1.12.6 gives for the same file (`from_csv` of dbt_common's agate helper,
    /// then DuckDBAdapter.convert_agate_type): integer, float8, date, timestamp (x2), text
    /// (a mix of the two datetime forms), boolean, text, integer (nulls only), text.
    #[test]
    fn columns_get_dbts_types() {
        let csv = "id,price,when,at,at_iso,at_mixed,flag,name,empty,mixed\n\
                   1,1.50,2024-01-02,2024-01-02 10:00:00,2024-01-02T10:00:00,2024-01-02 10:00:00,true,a,,1\n\
                   2,2,2024-01-03,2024-01-03 11:00:00,2024-01-03T11:00:00.5Z,2024-01-03T11:00:00,FALSE,b,null,x\n";
        assert_eq!(
            types(csv),
            [
                SeedColumn::Number { decimals: false },
                SeedColumn::Number { decimals: true },
                SeedColumn::Date,
                SeedColumn::DateTime,
                SeedColumn::DateTime,
                SeedColumn::Text,
                SeedColumn::Boolean,
                SeedColumn::Text,
                SeedColumn::Number { decimals: false },
                SeedColumn::Text,
            ]
        );
    }

    #[test]
    fn numbers_read_as_pythons_decimal_reads_them() {
        for (text, precision) in [("7", 0), ("1.0", 1), ("1,000", 0), ("$5", 0), ("1e3", 0)] {
            assert_eq!(number_precision(text), Some(precision), "{text}");
        }
        assert_eq!(number_precision("1_000"), Some(0));
        assert_eq!(number_precision("2.5e-1"), Some(2));
        for text in ["0x10", "1.2.3", "abc", ".", "1__0", "-"] {
            assert_eq!(number_precision(text), None, "{text}");
        }
    }
}
