//! Search and exports over the items the caller may see.

use actix_web::http::header;
use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::form_urlencoded::{self, Serializer};
use utoipa::{IntoParams, ToSchema};

use compact_auth::Permission;
use compact_registry::audience::Tlp;
use compact_registry::items::{ItemKind, viewer_of};
use compact_registry::search::query::TextQuery;
use compact_registry::search::text::Language;
use compact_registry::search::{self as engine, Cursor, Filters, Hit, SearchRequest, Sort};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, Problem};
use crate::routes::items::checked_limit;
use crate::routes::registry::blocking;

/// The text and filters of a search, shared by `/search` and its export.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Web-search syntax: words, `"a phrase"`, `-excluded`, `this or that`. Without it,
    /// everything that passes the filters, newest first. It must hold at least one word
    /// that is not excluded.
    #[param(min_length = 1, max_length = 500)]
    q: Option<String>,
    /// `document` or `update`.
    kind: Option<ItemKind>,
    /// Document type, e.g. `assessment` (`update` for updates).
    #[serde(rename = "type")]
    doc_type: Option<String>,
    /// Owner organization id.
    organization: Option<String>,
    /// Items addressed to this group.
    group: Option<String>,
    tag: Option<String>,
    tlp: Option<Tlp>,
    language: Option<Language>,
    /// Created at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Created before (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// `relevance` (the default with `q`; needs `q`) or `newest`.
    #[param(inline)]
    sort: Option<SortOrder>,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    Relevance,
    Newest,
}

/// Which page of results (search only; an export is always from the start).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// From `next_cursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
}

/// Splits a query string: the parameters `names` into `A`, the others into `B`. Each part
/// refuses names it does not know, so a mistyped filter is an error, never ignored.
fn split_query<A: DeserializeOwned, B: DeserializeOwned>(
    query: &str,
    names: &[&str],
) -> Result<(A, B), ApiError> {
    let (mut mine, mut rest) = (
        Serializer::new(String::new()),
        Serializer::new(String::new()),
    );
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let part = if names.contains(&name.as_ref()) {
            &mut mine
        } else {
            &mut rest
        };
        part.append_pair(&name, &value);
    }
    fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
        Ok(Query::<T>::from_query(text)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?
            .into_inner())
    }
    Ok((parse(&mine.finish())?, parse(&rest.finish())?))
}

fn request_of(query: SearchQuery, page: PageQuery) -> Result<SearchRequest, ApiError> {
    let limit = checked_limit(page.limit)?;
    let text = query.q.as_deref().map(TextQuery::parse).transpose()?;
    let sort = match (query.sort, &text) {
        (Some(SortOrder::Relevance) | None, Some(_)) => Sort::Relevance,
        (Some(SortOrder::Newest) | None, _) => Sort::Newest,
        (Some(SortOrder::Relevance), None) => {
            return Err(ApiError::invalid_field(
                "sort",
                "sorting by relevance needs a query q",
            ));
        }
    };
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        return Err(ApiError::invalid_field("to", "must be after from"));
    }
    Ok(SearchRequest {
        text,
        filters: Filters {
            kind: query.kind,
            doc_type: query.doc_type,
            organization: query.organization,
            group: query.group,
            tag: query
                .tag
                .map(|t| compact_registry::items::checked_tags(&[t]).map(|mut v| v.remove(0)))
                .transpose()?,
            tlp: query.tlp,
            language: query.language,
            from: query.from.map(|t| t.naive_utc()),
            to: query.to.map(|t| t.naive_utc()),
        },
        sort,
        after: page.cursor.as_deref().map(Cursor::decode).transpose()?,
        limit,
    })
}

#[derive(Serialize, ToSchema)]
pub struct HitView {
    id: String,
    kind: String,
    #[serde(rename = "type")]
    doc_type: String,
    title: String,
    summary: String,
    language: String,
    tags: Vec<String>,
    tlp: String,
    owner_organization_id: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
    /// Higher is better; absent when sorted by date.
    score: Option<f64>,
    /// HTML-escaped text around the first match, matches wrapped in `<mark>`.
    snippet: String,
}

impl From<Hit> for HitView {
    fn from(hit: Hit) -> Self {
        let r = hit.item.row;
        Self {
            id: r.id,
            kind: r.kind,
            doc_type: r.doc_type,
            title: r.title,
            summary: r.summary,
            language: r.language,
            tags: hit.item.tags,
            tlp: r.tlp,
            owner_organization_id: r.owner_org_id,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
            score: hit.score,
            snippet: hit.snippet,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FacetCount {
    value: String,
    count: i64,
}

/// Counts of the matching items the caller may see, by field value.
#[derive(Serialize, ToSchema)]
pub struct FacetsView {
    kind: Vec<FacetCount>,
    #[serde(rename = "type")]
    doc_type: Vec<FacetCount>,
    organization: Vec<FacetCount>,
    tlp: Vec<FacetCount>,
    language: Vec<FacetCount>,
    /// The 50 most frequent tags.
    tag: Vec<FacetCount>,
}

fn counts(values: Vec<(String, i64)>) -> Vec<FacetCount> {
    values
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct SearchResults {
    /// Every matching item the caller may see (exact).
    total: i64,
    hits: Vec<HitView>,
    facets: FacetsView,
    next_cursor: Option<String>,
}

/// Search the documents and updates the caller may see.
#[utoipa::path(
    tag = "search",
    security(("bearer" = ["search"]), ("api_key" = ["search"])),
    params(SearchQuery, PageQuery),
    responses(
        (status = 200, body = SearchResults),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("")]
pub async fn search(
    state: web::Data<AppState>,
    caller: Authenticated,
    req: HttpRequest,
) -> Result<web::Json<SearchResults>, ApiError> {
    let (page, query) = split_query(req.query_string(), &["cursor", "limit"])?;
    let request = request_of(query, page)?;
    let index = state.search_counts.clone();
    let results = blocking(&state, move |conn| {
        engine::search(conn, &index, &caller.0, &request)
    })
    .await?;
    let f = results.facets;
    Ok(web::Json(SearchResults {
        total: results.total,
        hits: results.hits.into_iter().map(HitView::from).collect(),
        facets: FacetsView {
            kind: counts(f.kind),
            doc_type: counts(f.doc_type),
            organization: counts(f.organization),
            tlp: counts(f.tlp),
            language: counts(f.language),
            tag: counts(f.tag),
        },
        next_cursor: results.next.map(|c| c.encode()),
    }))
}

/// At most this many rows go into one export.
pub const MAX_EXPORT_ROWS: usize = 10_000;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[param(inline)]
    format: ExportFormat,
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// JSON Lines.
    Jsonl,
    Csv,
}

/// The caller's search results as a file: JSON Lines or CSV, at most 10,000 rows, in the
/// order of the search. Takes the parameters of `/search` (without `cursor` and `limit`).
#[utoipa::path(
    tag = "search",
    security(("bearer" = ["search"]), ("api_key" = ["search"])),
    params(ExportQuery, SearchQuery),
    responses(
        (status = 200, description = "The rows, as JSON Lines or CSV", content(
            (String = "application/x-ndjson"),
            (String = "text/csv"),
        )),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/export")]
pub async fn export(
    state: web::Data<AppState>,
    caller: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (export, query): (ExportQuery, _) = split_query(req.query_string(), &["format"])?;
    caller.0.require(Permission::Search)?;
    let page = PageQuery {
        cursor: None,
        limit: Some(compact_registry::items::MAX_PAGE),
    };
    let request = request_of(query, page)?;
    let principal = caller.0;
    let rows = blocking(&state, move |conn| {
        let mut request = engine::scoped(&principal, &request)?;
        let viewer = viewer_of(&principal);
        let mut rows: Vec<HitView> = Vec::new();
        loop {
            // Each page becomes rows at once, so at most one page of bodies is in memory.
            let (hits, next) = engine::page(conn, &viewer, &request)?;
            rows.extend(hits.into_iter().map(HitView::from));
            match next {
                Some(cursor) if rows.len() < MAX_EXPORT_ROWS => request.after = Some(cursor),
                _ => break,
            }
        }
        rows.truncate(MAX_EXPORT_ROWS);
        Ok(rows)
    })
    .await?;
    let (content_type, filename, body) = if let ExportFormat::Csv = export.format {
        (
            "text/csv; charset=utf-8",
            "compact-search.csv",
            to_csv(&rows),
        )
    } else {
        let mut body = String::new();
        for row in &rows {
            body.push_str(&serde_json::to_string(row).unwrap_or_default());
            body.push('\n');
        }
        ("application/x-ndjson", "compact-search.jsonl", body)
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(body))
}

const CSV_COLUMNS: [&str; 11] = [
    "id",
    "kind",
    "type",
    "title",
    "summary",
    "language",
    "tags",
    "tlp",
    "owner_organization_id",
    "created_at",
    "updated_at",
];

fn to_csv(rows: &[HitView]) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for r in rows {
        let fields = [
            r.id.clone(),
            r.kind.clone(),
            r.doc_type.clone(),
            r.title.clone(),
            r.summary.clone(),
            r.language.clone(),
            r.tags.join(" "),
            r.tlp.clone(),
            r.owner_organization_id.clone(),
            r.created_at.to_rfc3339(),
            r.updated_at.to_rfc3339(),
        ];
        let fields: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field (RFC 4180), defused for spreadsheets: a leading `=`, `+`, `-`, `@`, tab or
/// carriage return would make the cell a formula, so such fields get a leading `'`.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("plain"), "\"plain\"");
        assert_eq!(csv_field("say \"hi\", ok"), "\"say \"\"hi\"\", ok\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
