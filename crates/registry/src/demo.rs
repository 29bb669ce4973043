//! `compact seed --demo`: a realistic Compact to explore — the secretariat, Compact entities,
//! regional organizations and member states named in the briefing, working groups and the
//! Central Asia Joint Plan of Action, users of every role, nominations in every state, and
//! documents and updates in the six UN languages (and one in another) under every TLP
//! marking.
//! Loaded in one transaction, and only once (a second run changes nothing).

use chrono::TimeDelta;
use diesel::prelude::*;

use compact_auth::Role;
use compact_auth::accounts::{self, MailContext};
use compact_db::audit::Actor;
use compact_db::schema::{group_members, groups, nominations, organizations, users};
use compact_db::{DbConnection, now};

use crate::RegistryError;

/// The password of every demo user (documented in the README).
pub const DEMO_PASSWORD: &str = "compact demo passphrase 2026";

const MARKER_EMAIL: &str = "admin@unoct.demo";

/// (acronym, name, kind, un_system)
const ORGANIZATIONS: &[(&str, &str, &str, bool)] = &[
    (
        "UNOCT",
        "United Nations Office of Counter-Terrorism",
        "secretariat",
        true,
    ),
    (
        "UNICEF",
        "United Nations Children's Fund",
        "compact_entity",
        true,
    ),
    (
        "INTERPOL",
        "International Criminal Police Organization",
        "compact_entity",
        false,
    ),
    ("WCO", "World Customs Organization", "compact_entity", false),
    ("IPU", "Inter-Parliamentary Union", "compact_entity", false),
    (
        "FATF",
        "Financial Action Task Force",
        "compact_entity",
        false,
    ),
    (
        "UNODC",
        "United Nations Office on Drugs and Crime",
        "compact_entity",
        true,
    ),
    (
        "CTED",
        "Counter-Terrorism Committee Executive Directorate",
        "compact_entity",
        true,
    ),
    (
        "UNDP",
        "United Nations Development Programme",
        "compact_entity",
        true,
    ),
    (
        "UNHCR",
        "Office of the United Nations High Commissioner for Refugees",
        "compact_entity",
        true,
    ),
    (
        "OHCHR",
        "Office of the United Nations High Commissioner for Human Rights",
        "compact_entity",
        true,
    ),
    (
        "UNESCO",
        "United Nations Educational, Scientific and Cultural Organization",
        "compact_entity",
        true,
    ),
    (
        "UN Women",
        "United Nations Entity for Gender Equality and the Empowerment of Women",
        "compact_entity",
        true,
    ),
    (
        "UNICRI",
        "United Nations Interregional Crime and Justice Research Institute",
        "compact_entity",
        true,
    ),
    (
        "ICAO",
        "International Civil Aviation Organization",
        "compact_entity",
        true,
    ),
    (
        "OIC",
        "Organisation of Islamic Cooperation",
        "regional_organization",
        false,
    ),
    (
        "CAIM",
        "Council of Arab Interior Ministers",
        "regional_organization",
        false,
    ),
    ("AU", "African Union", "regional_organization", false),
    (
        "OSCE",
        "Organization for Security and Co-operation in Europe",
        "regional_organization",
        false,
    ),
    ("PK", "Islamic Republic of Pakistan", "member_state", false),
    ("OM", "Sultanate of Oman", "member_state", false),
    ("ES", "Kingdom of Spain", "member_state", false),
    ("QA", "State of Qatar", "member_state", false),
    ("SA", "Kingdom of Saudi Arabia", "member_state", false),
    ("KZ", "Republic of Kazakhstan", "member_state", false),
    ("KG", "Kyrgyz Republic", "member_state", false),
    ("TJ", "Republic of Tajikistan", "member_state", false),
    ("TM", "Turkmenistan", "member_state", false),
    ("UZ", "Republic of Uzbekistan", "member_state", false),
];

/// (name, kind, member acronyms)
const GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "Central Asia Joint Plan of Action",
        "regional_plan",
        &["KZ", "KG", "TJ", "TM", "UZ", "UNOCT", "UNODC"],
    ),
    (
        "Working Group on Border Management and Law Enforcement",
        "working_group",
        &["UNOCT", "INTERPOL", "WCO", "UNODC", "ICAO", "CTED"],
    ),
    (
        "Working Group on Countering the Financing of Terrorism",
        "working_group",
        &["UNOCT", "FATF", "UNODC", "CTED"],
    ),
    (
        "Working Group on Human Rights, the Rule of Law and Victims of Terrorism",
        "working_group",
        &["UNOCT", "OHCHR", "UN Women", "UNICEF", "UNDP"],
    ),
    (
        "Global Framework on Children in Camps",
        "sharing_circle",
        &["UNOCT", "UNICEF", "UNHCR", "UNDP"],
    ),
];

/// (e-mail, name, organization acronym, role)
const USERS: &[(&str, &str, &str, &str)] = &[
    (MARKER_EMAIL, "Demo Administrator", "UNOCT", "admin"),
    (
        "secretariat@unoct.demo",
        "Secretariat Officer",
        "UNOCT",
        "secretariat",
    ),
    (
        "coordinator@oic.demo",
        "OIC Coordinator",
        "OIC",
        "coordinator",
    ),
    ("focal.point@oic.demo", "Amina Diallo", "OIC", "focal_point"),
    ("member@oic.demo", "Yusuf Karim", "OIC", "member"),
    (
        "coordinator@unicef.demo",
        "UNICEF Coordinator",
        "UNICEF",
        "coordinator",
    ),
    (
        "focal.point@interpol.demo",
        "Jean Martin",
        "INTERPOL",
        "focal_point",
    ),
    (
        "coordinator@caim.demo",
        "CAIM Coordinator",
        "CAIM",
        "coordinator",
    ),
    ("member@caim.demo", "Layla Nasser", "CAIM", "member"),
    ("coordinator@au.demo", "AU Coordinator", "AU", "coordinator"),
    (
        "coordinator@uz.demo",
        "Uzbekistan Coordinator",
        "UZ",
        "coordinator",
    ),
];

/// (organization, nominee e-mail, nominee name, kind, status, nominated by)
const NOMINATIONS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "OIC",
        "focal.point@oic.demo",
        "Amina Diallo",
        "primary",
        "active",
        "coordinator@oic.demo",
    ),
    (
        "INTERPOL",
        "focal.point@interpol.demo",
        "Jean Martin",
        "primary",
        "active",
        "secretariat@unoct.demo",
    ),
    (
        "OIC",
        "member@oic.demo",
        "Yusuf Karim",
        "alternate",
        "pending",
        "coordinator@oic.demo",
    ),
    (
        "CAIM",
        "nominee@caim.demo",
        "Khalid Mansour",
        "primary",
        "approved",
        "coordinator@caim.demo",
    ),
    (
        "CAIM",
        "member@caim.demo",
        "Layla Nasser",
        "alternate",
        "rejected",
        "coordinator@caim.demo",
    ),
    (
        "AU",
        "former@au.demo",
        "Grace Mensah",
        "primary",
        "revoked",
        "coordinator@au.demo",
    ),
    (
        "AU",
        "withdrawn@au.demo",
        "Samuel Okoro",
        "alternate",
        "withdrawn",
        "coordinator@au.demo",
    ),
    (
        "UZ",
        "expired@uz.demo",
        "Dilnoza Karimova",
        "primary",
        "expired",
        "coordinator@uz.demo",
    ),
];

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub organizations: usize,
    pub groups: usize,
    pub users: usize,
    pub nominations: usize,
    pub documents: usize,
    pub updates: usize,
}

/// Loads the demo, unless it is there already (then returns `None`). `password_hash` is the
/// argon2 hash of [`DEMO_PASSWORD`], given by the caller that knows the configured cost.
pub fn seed(
    conn: &mut DbConnection,
    password_hash: &str,
    mail: &MailContext,
) -> Result<Option<Seeded>, RegistryError> {
    let present: i64 = users::table
        .filter(users::email_normalized.eq(MARKER_EMAIL))
        .count()
        .get_result(conn)?;
    if present > 0 {
        return Ok(None);
    }
    let at = now();
    let mut seeded = Seeded::default();
    let org_id = |conn: &mut DbConnection, acronym: &str| -> Result<String, RegistryError> {
        Ok(organizations::table
            .filter(organizations::acronym_normalized.eq(acronym.to_uppercase()))
            .select(organizations::id)
            .first(conn)?)
    };
    for (acronym, name, kind, un_system) in ORGANIZATIONS {
        let exists: i64 = organizations::table
            .filter(organizations::acronym_normalized.eq(acronym.to_uppercase()))
            .count()
            .get_result(conn)?;
        let secretariat_exists = *kind == "secretariat"
            && organizations::table
                .filter(organizations::kind.eq("secretariat"))
                .count()
                .get_result::<i64>(conn)?
                > 0;
        if exists > 0 || secretariat_exists {
            continue;
        }
        diesel::insert_into(organizations::table)
            .values((
                organizations::id.eq(uuid::Uuid::now_v7().to_string()),
                organizations::name.eq(name),
                organizations::acronym.eq(acronym),
                organizations::acronym_normalized.eq(acronym.to_uppercase()),
                organizations::kind.eq(kind),
                organizations::un_system.eq(un_system),
                organizations::status.eq("active"),
                organizations::email_domains.eq(""),
                organizations::created_at.eq(at),
                organizations::updated_at.eq(at),
            ))
            .execute(conn)?;
        seeded.organizations += 1;
    }
    let secretariat: String = organizations::table
        .filter(organizations::kind.eq("secretariat"))
        .select(organizations::id)
        .first(conn)?;
    for (name, kind, members) in GROUPS {
        let exists: i64 = groups::table
            .filter(groups::name_normalized.eq(name.to_lowercase()))
            .count()
            .get_result(conn)?;
        if exists > 0 {
            continue;
        }
        let group_id = uuid::Uuid::now_v7().to_string();
        diesel::insert_into(groups::table)
            .values((
                groups::id.eq(&group_id),
                groups::name.eq(name),
                groups::name_normalized.eq(name.to_lowercase()),
                groups::kind.eq(kind),
                groups::description.eq(""),
                groups::created_at.eq(at),
                groups::updated_at.eq(at),
            ))
            .execute(conn)?;
        for acronym in *members {
            let member = if *acronym == "UNOCT" {
                secretariat.clone()
            } else {
                org_id(conn, acronym)?
            };
            diesel::insert_into(group_members::table)
                .values((
                    group_members::group_id.eq(&group_id),
                    group_members::organization_id.eq(member),
                    group_members::added_at.eq(at),
                ))
                .execute(conn)?;
        }
        seeded.groups += 1;
    }
    for (email, name, acronym, role) in USERS {
        let org = if *acronym == "UNOCT" {
            secretariat.clone()
        } else {
            org_id(conn, acronym)?
        };
        diesel::insert_into(users::table)
            .values((
                users::id.eq(uuid::Uuid::now_v7().to_string()),
                users::organization_id.eq(org),
                users::email.eq(email),
                users::email_normalized.eq(email.to_lowercase()),
                users::name.eq(name),
                users::role.eq(role),
                users::status.eq("active"),
                users::password_hash.eq(Some(password_hash)),
                users::created_at.eq(at),
                users::updated_at.eq(at),
            ))
            .execute(conn)?;
        seeded.users += 1;
    }
    let decider: String = users::table
        .filter(users::email_normalized.eq("secretariat@unoct.demo"))
        .select(users::id)
        .first(conn)?;
    for (acronym, email, name, kind, status, nominator) in NOMINATIONS {
        let org = org_id(conn, acronym)?;
        let nominated_by: String = users::table
            .filter(users::email_normalized.eq(*nominator))
            .select(users::id)
            .first(conn)?;
        let mut user_id: Option<String> = users::table
            .filter(users::email_normalized.eq(*email))
            .select(users::id)
            .first(conn)
            .optional()?;
        if *status == "approved" && user_id.is_none() {
            // Approved, not yet signed up: an invited account with a live invitation.
            let org = org_id(conn, acronym)?;
            let invited = accounts::invite_to_organization(
                conn,
                &org,
                email,
                name,
                Role::FocalPoint,
                mail,
                Actor::default(),
            )?;
            user_id = Some(invited.id);
        }
        let decided = *status != "pending" && *status != "withdrawn";
        let seated_once = matches!(*status, "active" | "revoked" | "expired");
        let reason = match *status {
            "rejected" => Some("The nominee already represents the organization elsewhere."),
            "revoked" => Some("Left the organization."),
            _ => None,
        };
        diesel::insert_into(nominations::table)
            .values((
                nominations::id.eq(uuid::Uuid::now_v7().to_string()),
                nominations::organization_id.eq(org),
                nominations::nominee_name.eq(name),
                nominations::nominee_email.eq(email),
                nominations::nominee_email_normalized.eq(email.to_lowercase()),
                nominations::position.eq("Counter-terrorism focal point"),
                nominations::kind.eq(kind),
                nominations::mandate.eq("Represents the organization on the Digital Counter-Terrorism Coordination Platform."),
                nominations::term_end.eq((*status == "expired").then(|| at - TimeDelta::days(30))),
                nominations::status.eq(status),
                nominations::nominated_by.eq(nominated_by),
                nominations::decided_by.eq(decided.then(|| decider.clone())),
                nominations::decided_at.eq(decided.then_some(at - TimeDelta::days(60))),
                nominations::reason.eq(reason),
                nominations::user_id.eq(if seated_once || *status == "approved" { user_id } else { None }),
                nominations::activated_at.eq(seated_once.then_some(at - TimeDelta::days(60))),
                nominations::ended_at.eq(matches!(*status, "revoked" | "expired").then_some(at - TimeDelta::days(30))),
                nominations::created_at.eq(at - TimeDelta::days(90)),
                nominations::updated_at.eq(at),
            ))
            .execute(conn)?;
        seeded.nominations += 1;
    }
    (seeded.documents, seeded.updates) = crate::demo_items::seed(conn, mail)?;
    Ok(Some(seeded))
}
