//! The focal-point directory and the registry's statistics, for every signed-in user.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;

use compact_auth::{Permission, Principal};
use compact_db::DbConnection;
use compact_db::schema::{nominations, organizations, users};

use crate::RegistryError;
use crate::nominations::{ACTIVE, PENDING};

#[derive(Debug, Clone, Serialize)]
pub struct FocalPoint {
    pub nomination_id: String,
    pub user_id: Option<String>,
    pub name: String,
    pub position: String,
    pub kind: String,
    pub since: Option<NaiveDateTime>,
    pub organization_id: String,
    pub organization_acronym: String,
    pub organization_name: String,
    pub organization_kind: String,
}

#[derive(Debug, Default)]
pub struct DirectoryFilter {
    pub organization_id: Option<String>,
    pub organization_kind: Option<String>,
}

/// Active focal points, by organization then primary before alternates.
pub fn focal_points(
    conn: &mut DbConnection,
    actor: &Principal,
    filter: &DirectoryFilter,
) -> Result<Vec<FocalPoint>, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    let mut query = nominations::table
        .inner_join(organizations::table)
        .left_join(users::table.on(nominations::user_id.eq(users::id.nullable())))
        .filter(nominations::status.eq(ACTIVE))
        .filter(users::status.nullable().eq("active"))
        .filter(organizations::status.eq("active"))
        .select((
            nominations::id,
            nominations::user_id,
            users::name.nullable(),
            nominations::nominee_name,
            nominations::position,
            nominations::kind,
            nominations::activated_at,
            organizations::id,
            organizations::acronym,
            organizations::name,
            organizations::kind,
        ))
        .order((
            organizations::acronym_normalized.asc(),
            nominations::kind.desc(),
            nominations::activated_at.asc(),
        ))
        .into_boxed();
    if let Some(org) = &filter.organization_id {
        query = query.filter(organizations::id.eq(org.clone()));
    }
    if let Some(kind) = &filter.organization_kind {
        query = query.filter(organizations::kind.eq(kind.clone()));
    }
    type Row = (
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        String,
        Option<NaiveDateTime>,
        String,
        String,
        String,
        String,
    );
    let rows: Vec<Row> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(
                nomination_id,
                user_id,
                user_name,
                nominee_name,
                position,
                kind,
                since,
                org_id,
                acronym,
                org_name,
                org_kind,
            )| FocalPoint {
                nomination_id,
                user_id,
                name: user_name.unwrap_or(nominee_name),
                position,
                kind,
                since,
                organization_id: org_id,
                organization_acronym: acronym,
                organization_name: org_name,
                organization_kind: org_kind,
            },
        )
        .collect())
}

#[derive(Debug, Clone, Serialize)]
pub struct Statistics {
    /// Active organizations by kind.
    pub organizations_by_kind: Vec<(String, i64)>,
    /// Regional organizations with at least one active focal point.
    pub regional_organizations_with_focal_points: i64,
    /// Regional organizations that have nominated anyone (pending, approved or active).
    pub regional_organizations_with_nominations: i64,
    pub active_focal_points: i64,
    pub pending_nominations: i64,
}

pub fn statistics(conn: &mut DbConnection, actor: &Principal) -> Result<Statistics, RegistryError> {
    actor.require(Permission::RegistryRead)?;
    let organizations_by_kind: Vec<(String, i64)> = organizations::table
        .filter(organizations::status.eq("active"))
        .group_by(organizations::kind)
        .select((organizations::kind, diesel::dsl::count_star()))
        .order(organizations::kind.asc())
        .load(conn)?;
    let regional_with =
        |conn: &mut DbConnection, statuses: &[&str]| -> Result<i64, RegistryError> {
            let orgs: Vec<String> = nominations::table
                .inner_join(organizations::table)
                .filter(organizations::kind.eq("regional_organization"))
                .filter(nominations::status.eq_any(statuses.to_vec()))
                .select(nominations::organization_id)
                .distinct()
                .load(conn)?;
            Ok(orgs.len() as i64)
        };
    let count = |conn: &mut DbConnection, status: &str| -> Result<i64, RegistryError> {
        Ok(nominations::table
            .filter(nominations::status.eq(status.to_owned()))
            .count()
            .get_result(conn)?)
    };
    Ok(Statistics {
        organizations_by_kind,
        regional_organizations_with_focal_points: regional_with(conn, &[ACTIVE])?,
        regional_organizations_with_nominations: regional_with(
            conn,
            &[PENDING, "approved", ACTIVE],
        )?,
        active_focal_points: count(conn, ACTIVE)?,
        pending_nominations: count(conn, PENDING)?,
    })
}
