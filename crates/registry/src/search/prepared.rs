//! SQL that diesel keeps prepared. diesel re-prepares every statement that holds `sql()`,
//! `sql_query` or an `eq_any` list (its text could vary), and a search's five statements
//! were parsed and planned again on every request: a sixth of a search's instructions on
//! SQLite. A [`Fragment`] is SQL text with bound values: its text is the statement cache's
//! key, so it must never hold a value, only placeholders.

use std::borrow::Cow;
use std::marker::PhantomData;

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{BigInt, HasSqlType, SqlType, Text};
use diesel::{QueryResult, RunQueryDsl};

/// A value bound to a placeholder.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    BigInt(i64),
}

#[derive(Debug, Clone)]
enum Piece {
    Sql(Cow<'static, str>),
    Bind(Bind),
}

/// SQL text of type `ST` with values bound in it: an expression (`Fragment<Bool>` in a
/// WHERE clause) or a whole statement (`Fragment<(BigInt, Double)>` loaded as rows).
#[derive(Debug, Clone)]
pub(crate) struct Fragment<ST> {
    pieces: Vec<Piece>,
    sql_type: PhantomData<ST>,
}

impl<ST> Fragment<ST> {
    pub(crate) fn new(sql: impl Into<Cow<'static, str>>) -> Self {
        Fragment {
            pieces: vec![Piece::Sql(sql.into())],
            sql_type: PhantomData,
        }
    }

    pub(crate) fn sql(mut self, sql: impl Into<Cow<'static, str>>) -> Self {
        self.pieces.push(Piece::Sql(sql.into()));
        self
    }

    /// Appends `other`'s text and values.
    pub(crate) fn then<T>(mut self, other: Fragment<T>) -> Self {
        self.pieces.extend(other.pieces);
        self
    }

    pub(crate) fn text(mut self, value: impl Into<String>) -> Self {
        self.pieces.push(Piece::Bind(Bind::Text(value.into())));
        self
    }

    pub(crate) fn big_int(mut self, value: i64) -> Self {
        self.pieces.push(Piece::Bind(Bind::BigInt(value)));
        self
    }

    /// A JSON array of `values` bound as one text, for `json_each` (SQLite) or a cast to an
    /// array (PostgreSQL): one statement for any number of values.
    pub(crate) fn json_array<T: ToString>(self, values: impl IntoIterator<Item = T>) -> Self {
        let mut json = String::from("[");
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&value.to_string());
        }
        json.push(']');
        self.text(json)
    }
}

/// SQLite: `column` is one of `values` (numbers), as one bound JSON array.
pub(crate) fn sqlite_in_numbers<ST>(
    column: &'static str,
    values: impl IntoIterator<Item = i64>,
) -> Fragment<ST> {
    Fragment::new(column)
        .sql(" IN (SELECT value FROM json_each(")
        .json_array(values)
        .sql("))")
}

/// SQLite: `column` is one of `values` (texts), as one bound JSON array.
pub(crate) fn sqlite_in_texts<'v, ST>(
    column: &'static str,
    values: impl IntoIterator<Item = &'v str>,
) -> Fragment<ST> {
    let strings: Vec<serde_json::Value> = values
        .into_iter()
        .map(|v| serde_json::Value::String(v.to_owned()))
        .collect();
    Fragment::new(column)
        .sql(" IN (SELECT value FROM json_each(")
        .text(serde_json::Value::Array(strings).to_string())
        .sql("))")
}

impl<ST: diesel::expression::TypedExpressionType> Expression for Fragment<ST> {
    type SqlType = ST;
}

impl<ST: SqlType> Query for Fragment<ST> {
    type SqlType = ST;
}

impl<ST, Conn> RunQueryDsl<Conn> for Fragment<ST> {}

impl<ST, DB> QueryFragment<DB> for Fragment<ST>
where
    DB: Backend + HasSqlType<Text> + HasSqlType<BigInt>,
    String: ToSql<Text, DB>,
    i64: ToSql<BigInt, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for piece in &self.pieces {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Bind(Bind::Text(value)) => out.push_bind_param::<Text, _>(value)?,
                Piece::Bind(Bind::BigInt(value)) => out.push_bind_param::<BigInt, _>(value)?,
            }
        }
        Ok(())
    }
}

/// Not a static id: statements are cached by their text, which differs between fragments
/// of one Rust type.
impl<ST> QueryId for Fragment<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST, QS> SelectableExpression<QS> for Fragment<ST> where Self: Expression {}

impl<ST, QS> AppearsOnTable<QS> for Fragment<ST> where Self: Expression {}

impl<ST, GB> ValidGrouping<GB> for Fragment<ST> {
    type IsAggregate = diesel::expression::is_aggregate::Never;
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::Bool;

    #[test]
    fn values_are_bound_never_written_into_the_text() {
        let fragment: Fragment<Bool> = sqlite_in_texts("items.id", ["a'b", "c"]);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&fragment).to_string();
        assert!(
            sql.starts_with("items.id IN (SELECT value FROM json_each(?))"),
            "{sql}"
        );
        // The bind list is printed with Debug, which escapes the JSON's quotes.
        assert!(sql.ends_with(r#"-- binds: ["[\"a'b\",\"c\"]"]"#), "{sql}");
        let numbers: Fragment<Bool> = sqlite_in_numbers("items.seq", [3, -1]);
        let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(&numbers).to_string();
        assert!(sql.contains("[3,-1]"), "{sql}");
    }
}
