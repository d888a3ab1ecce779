//! Where Queuetopia's tables live: a table-name prefix on every backend, and
//! a schema on PostgreSQL.

use crate::error::{Error, Result};

/// The prefix of every table and index name unless [`Tables::prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "queuetopia_";

/// Where Queuetopia's tables live, so that they can sit beside an
/// application's own tables without clashing.
///
/// The default is no schema (PostgreSQL's `search_path`, the connection's
/// database on MySQL) and the prefix `queuetopia_`: the tables are
/// `queuetopia_jobs`, `queuetopia_queues`, `queuetopia_audit` and
/// `queuetopia_migrations`.
///
/// Names are checked when a [`crate::Db`] is made with them: lowercase ASCII
/// letters, digits and `_`, starting with a letter or `_`, at most 30 bytes
/// for a prefix and 63 for a schema. Anything else (quotes, spaces, dots,
/// semicolons) is refused, so a name can never inject SQL.
///
/// ```
/// use queuetopia::Tables;
///
/// let tables = Tables::default().prefix("billing_qt_").schema("jobs");
/// assert_eq!(tables.jobs_table(), "jobs.billing_qt_jobs");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    schema: Option<String>,
    prefix: String,
}

impl Default for Tables {
    fn default() -> Self {
        Tables {
            schema: None,
            prefix: DEFAULT_PREFIX.to_owned(),
        }
    }
}

impl Tables {
    /// Table and index names start with `prefix` (default `queuetopia_`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The tables live in this PostgreSQL schema, created by
    /// [`crate::Db::migrate`] if missing. Other backends refuse a schema.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// The qualified name of the jobs table, as the SQL uses it.
    pub fn jobs_table(&self) -> String {
        self.qualified("jobs")
    }

    /// The table prefix.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn prefix_name(&self) -> &str {
        &self.prefix
    }

    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn schema_name(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    fn qualified(&self, table: &str) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}{table}", self.prefix),
            None => format!("{}{table}", self.prefix),
        }
    }

    /// Checks the names; `schemas` tells whether the backend has schemas.
    pub(crate) fn check(&self, schemas: bool) -> Result<()> {
        check_identifier("table_prefix", &self.prefix, 30)?;
        if let Some(schema) = &self.schema {
            if !schemas {
                return Err(Error::validation(
                    "schema",
                    "only PostgreSQL has schemas: use a table prefix",
                ));
            }
            check_identifier("schema", schema, 63)?;
        }
        Ok(())
    }

    /// Rewrites SQL written for the default placement: the tables
    /// `queuetopia_jobs`, `queuetopia_queues`, `queuetopia_audit` and `queuetopia_migrations`
    /// and PostgreSQL's functions (`queuetopia_claim`, `queuetopia_finish`,
    /// `queuetopia_finish_batch`, `queuetopia_refresh`, `queuetopia_insert`,
    /// `queuetopia_insert_one`, `queuetopia_check_job`, `queuetopia_job_ok`)
    /// become qualified names, and every other name
    /// starting with `queuetopia_` (indexes) gets the prefix instead.
    pub(crate) fn render(&self, sql: &str) -> String {
        const TABLES: [&str; 12] = [
            "jobs",
            "queues",
            "migrations",
            "audit",
            "claim",
            "finish",
            "finish_batch",
            "refresh",
            "insert",
            "insert_one",
            "check_job",
            "job_ok",
        ];
        let mut out = String::with_capacity(sql.len() + 64);
        let mut rest = sql;
        while let Some(start) = rest.find(DEFAULT_PREFIX) {
            let before = &rest[..start];
            // Only whole words: the prefix must not be the end of a longer name.
            let word_start = before
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'));
            out.push_str(before);
            let after = &rest[start + DEFAULT_PREFIX.len()..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            let name = &after[..len];
            if !word_start {
                out.push_str(DEFAULT_PREFIX);
                out.push_str(name);
            } else if TABLES.contains(&name) {
                out.push_str(&self.qualified(name));
            } else {
                out.push_str(&self.prefix);
                out.push_str(name);
            }
            rest = &after[len..];
        }
        out.push_str(rest);
        out
    }
}

fn check_identifier(field: &'static str, name: &str, max: usize) -> Result<()> {
    let first_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !first_ok || !rest_ok || name.len() > max {
        return Err(Error::validation(
            field,
            format!(
                "{name:?} is not allowed: use 1 to {max} lowercase ASCII letters, digits \
                 or `_`, not starting with a digit"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_changes_nothing() {
        let sql = "SELECT * FROM queuetopia_jobs j JOIN queuetopia_queues q ON true";
        assert_eq!(Tables::default().render(sql), sql);
    }

    #[test]
    fn tables_are_qualified_and_indexes_prefixed() {
        let t = Tables::default().prefix("app_").schema("work");
        assert_eq!(
            t.render("CREATE INDEX queuetopia_jobs_open ON queuetopia_jobs (scope);"),
            "CREATE INDEX app_jobs_open ON work.app_jobs (scope);"
        );
        assert_eq!(
            t.render("to_regclass('queuetopia_migrations'), myqueuetopia_jobs"),
            "to_regclass('work.app_migrations'), myqueuetopia_jobs"
        );
    }

    #[test]
    fn names_that_could_inject_are_refused() {
        for bad in [
            "",
            "a;drop",
            "a b",
            "A_",
            "x\"",
            "a.b",
            "1a",
            "é",
            &"a".repeat(31),
        ] {
            let t = Tables::default().prefix(bad);
            assert!(
                matches!(
                    t.check(true),
                    Err(Error::Validation {
                        field: "table_prefix",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
        let s = Tables::default().schema("public; DROP TABLE x");
        assert!(matches!(
            s.check(true),
            Err(Error::Validation {
                field: "schema",
                ..
            })
        ));
        let s = Tables::default().schema("jobs");
        assert!(s.check(true).is_ok());
        assert!(matches!(
            s.check(false),
            Err(Error::Validation {
                field: "schema",
                ..
            })
        ));
        assert!(Tables::default().prefix("_x9_").check(false).is_ok());
    }
}
