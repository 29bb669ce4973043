//! Turns what diesel reports of a query (`SQL -- binds: [..]`, the `Debug` of each bound
//! value) into SQL with the values written in as literals, so pgbench and the native runner
//! execute exactly the statement the registry sent.

use anyhow::{Context, bail};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    /// A number, or a bare token such as a timestamp's `Debug`.
    Bare(String),
    Null,
    List(Vec<Value>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Sqlite,
}

/// Parses the `Debug` of a list of bound values.
pub fn parse_binds(text: &str) -> anyhow::Result<Vec<Value>> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut pos = 0;
    let value = parse_value(&chars, &mut pos)?;
    match value {
        Value::List(values) => Ok(values),
        other => bail!("expected a list of binds, got {other:?}"),
    }
}

fn parse_value(c: &[char], pos: &mut usize) -> anyhow::Result<Value> {
    while c.get(*pos).is_some_and(|ch| ch.is_whitespace()) {
        *pos += 1;
    }
    match c.get(*pos) {
        Some('[') => {
            *pos += 1;
            let mut items = Vec::new();
            loop {
                while c
                    .get(*pos)
                    .is_some_and(|ch| ch.is_whitespace() || *ch == ',')
                {
                    *pos += 1;
                }
                if c.get(*pos) == Some(&']') {
                    *pos += 1;
                    return Ok(Value::List(items));
                }
                if *pos >= c.len() {
                    bail!("unterminated list");
                }
                items.push(parse_value(c, pos)?);
            }
        }
        Some('"') => {
            *pos += 1;
            let mut s = String::new();
            while let Some(&ch) = c.get(*pos) {
                *pos += 1;
                match ch {
                    '"' => return Ok(Value::Text(s)),
                    '\\' => {
                        let esc = *c.get(*pos).context("dangling escape")?;
                        *pos += 1;
                        match esc {
                            'n' => s.push('\n'),
                            't' => s.push('\t'),
                            'r' => s.push('\r'),
                            '0' => s.push('\0'),
                            'u' => {
                                // \u{XXXX}
                                let end = c[*pos..]
                                    .iter()
                                    .position(|&x| x == '}')
                                    .context("bad \\u")?;
                                let hex: String = c[*pos + 1..*pos + end].iter().collect();
                                s.push(
                                    char::from_u32(u32::from_str_radix(&hex, 16)?)
                                        .context("bad char")?,
                                );
                                *pos += end + 1;
                            }
                            other => s.push(other),
                        }
                    }
                    other => s.push(other),
                }
            }
            bail!("unterminated string")
        }
        Some(_) => {
            let start = *pos;
            let mut depth = 0;
            while let Some(&ch) = c.get(*pos) {
                match ch {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' | ']' if depth == 0 => break,
                    _ => {}
                }
                *pos += 1;
            }
            let token: String = c[start..*pos].iter().collect::<String>().trim().to_owned();
            if token == "None" {
                return Ok(Value::Null);
            }
            if let Some(inner) = token
                .strip_prefix("Some(")
                .and_then(|t| t.strip_suffix(')'))
            {
                let inner: Vec<char> = format!("[{inner}]").chars().collect();
                let mut p = 0;
                if let Value::List(mut v) = parse_value(&inner, &mut p)? {
                    return v.pop().context("empty Some");
                }
            }
            Ok(Value::Bare(token))
        }
        None => bail!("unexpected end of binds"),
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The value as a SQL literal of `dialect`.
pub fn literal(value: &Value, dialect: Dialect) -> String {
    match value {
        Value::Text(s) => quote(s),
        Value::Null => "NULL".into(),
        Value::Bare(b) if b == "true" || b == "false" => match dialect {
            Dialect::Postgres => b.clone(),
            Dialect::Sqlite => if b == "true" { "1" } else { "0" }.into(),
        },
        Value::Bare(b) if b.parse::<f64>().is_ok() => b.clone(),
        // A timestamp's Debug (2026-11-28T02:47:03.123456): diesel stores it with a space.
        Value::Bare(b) => quote(&b.replacen('T', " ", 1)),
        Value::List(items) => {
            let inner: Vec<String> = items.iter().map(|v| literal(v, dialect)).collect();
            match dialect {
                Dialect::Postgres if inner.is_empty() => "'{}'::text[]".into(),
                Dialect::Postgres => format!("ARRAY[{}]", inner.join(", ")),
                Dialect::Sqlite => inner.join(", "),
            }
        }
    }
}

/// One reported statement with its binds written in.
pub fn inline(reported: &str, dialect: Dialect) -> anyhow::Result<String> {
    let Some((sql, binds)) = reported.rsplit_once(" -- binds: ") else {
        return Ok(reported.trim().to_owned());
    };
    let values = parse_binds(binds)?;
    let out = match dialect {
        Dialect::Postgres => {
            let mut sql = sql.to_owned();
            // Highest first, so $1 does not eat the start of $12.
            for (n, value) in values.iter().enumerate().rev() {
                sql = sql.replace(&format!("${}", n + 1), &literal(value, dialect));
            }
            sql
        }
        Dialect::Sqlite => {
            let mut out = String::new();
            let mut values = values.iter();
            let mut in_string = false;
            for ch in sql.chars() {
                match ch {
                    '\'' => {
                        in_string = !in_string;
                        out.push(ch);
                    }
                    '?' if !in_string => {
                        let value = values.next().context("more placeholders than binds")?;
                        out.push_str(&literal(value, dialect));
                    }
                    _ => out.push(ch),
                }
            }
            out
        }
    };
    Ok(out.replace('\n', " ").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_binds_become_literals() {
        let reported = r#"SELECT a FROM t WHERE x = $1 AND y = ANY($2) LIMIT $10 OFFSET $1 -- binds: ["it's", ["a", "b"], 3, 4, 5, 6, 7, 8, 9, 21]"#;
        assert_eq!(
            inline(reported, Dialect::Postgres).expect("inlined"),
            "SELECT a FROM t WHERE x = 'it''s' AND y = ANY(ARRAY['a', 'b']) LIMIT 21 OFFSET 'it''s'"
        );
    }

    #[test]
    fn sqlite_binds_fill_placeholders_in_order() {
        let reported = r#"INSERT INTO t VALUES (?, ?, ?, ?, ?) -- binds: ["\"q\" ?", None, Some(2026-11-28T02:47:03.123456), true, 1.5]"#;
        assert_eq!(
            inline(reported, Dialect::Sqlite).expect("inlined"),
            r#"INSERT INTO t VALUES ('"q" ?', NULL, '2026-11-28 02:47:03.123456', 1, 1.5)"#
        );
    }

    #[test]
    fn statements_without_binds_pass_through() {
        assert_eq!(inline("BEGIN", Dialect::Postgres).expect("ok"), "BEGIN");
    }
}
