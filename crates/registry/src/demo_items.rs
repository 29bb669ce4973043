//! The demo's documents and updates: all six UN languages and `other`, every TLP marking
//! and every kind of recipient, shared by the demo users through the same code as the API,
//! so search and the feed have something real to show.

use diesel::prelude::*;

use compact_auth::accounts::MailContext;
use compact_auth::{Principal, Role};
use compact_db::DbConnection;
use compact_db::audit::Actor;
use compact_db::schema::{groups, organizations, users};

use crate::RegistryError;
use crate::audience::{Recipients, Tlp};
use crate::items::edit::{self, ItemPatch};
use crate::items::{self, DocType, ItemInput, ItemKind};
use crate::search::text::Language;

/// Whom a demo item is for, by the demo's own names.
enum To {
    Nobody,
    Orgs(&'static [&'static str]),
    Group(&'static str),
    Person(&'static str),
}

struct DemoItem {
    author: &'static str,
    kind: ItemKind,
    doc_type: Option<DocType>,
    language: Language,
    tlp: Tlp,
    to: To,
    tags: &'static [&'static str],
    title: &'static str,
    summary: &'static str,
    body: &'static str,
}

const BORDER_GROUP: &str = "Working Group on Border Management and Law Enforcement";
const JPOA: &str = "Central Asia Joint Plan of Action";

const ITEMS: &[DemoItem] = &[
    DemoItem {
        author: "focal.point@oic.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Assessment),
        language: Language::En,
        tlp: Tlp::Green,
        to: To::Nobody,
        tags: &["foreign-terrorist-fighters", "returnees"],
        title: "Regional assessment of foreign terrorist fighter returns",
        summary: "How member states screen, prosecute and reintegrate returning fighters.",
        body: "## Findings\nReturning foreign terrorist fighters and their families pose distinct risks.\n\nScreening at borders improved in 2026; prosecution rates remain uneven across the region.",
    },
    DemoItem {
        author: "focal.point@interpol.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Report),
        language: Language::Fr,
        tlp: Tlp::Amber,
        to: To::Group(BORDER_GROUP),
        tags: &["frontieres", "sahel"],
        title: "Rapport sur la sécurité des frontières au Sahel",
        summary: "Les trafics transfrontaliers financent les groupes terroristes.",
        body: "Les terroristes exploitent les frontières poreuses du Sahel.\n\nLe financement du terrorisme passe par la contrebande d'or et de carburant.",
    },
    DemoItem {
        author: "coordinator@oic.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Guidance),
        language: Language::Ar,
        tlp: Tlp::AmberStrict,
        to: To::Orgs(&["FATF", "UNODC"]),
        tags: &["cft", "guidance"],
        title: "إرشادات بشأن مكافحة تمويل الإرهاب",
        summary: "توصيات للمصارف والجمعيات الخيرية.",
        body: "يجب على المؤسسات المالية الإبلاغ عن المعاملات المشبوهة المرتبطة بتمويل الإرهاب.",
    },
    DemoItem {
        author: "coordinator@uz.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Plan),
        language: Language::Ru,
        tlp: Tlp::Green,
        to: To::Group(JPOA),
        tags: &["pve", "central-asia"],
        title: "План действий по предотвращению насильственного экстремизма",
        summary: "Совместные меры государств Центральной Азии.",
        body: "Государства региона согласовали меры по предотвращению насильственного экстремизма и терроризма.",
    },
    DemoItem {
        author: "coordinator@unicef.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Report),
        language: Language::Zh,
        tlp: Tlp::Clear,
        to: To::Nobody,
        tags: &["children", "camps"],
        title: "关于保护营地儿童的报告",
        summary: "营地中的儿童需要保护和教育。",
        body: "本报告介绍了在营地中保护儿童、防止恐怖主义招募的区域合作。",
    },
    DemoItem {
        author: "coordinator@caim.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Legal),
        language: Language::Es,
        tlp: Tlp::Red,
        to: To::Person("focal.point@oic.demo"),
        tags: &["prosecution"],
        title: "Marco jurídico para el enjuiciamiento de combatientes terroristas extranjeros",
        summary: "Opciones legales para los Estados miembros.",
        body: "La cooperación judicial es esencial para el enjuiciamiento de los combatientes terroristas extranjeros.",
    },
    DemoItem {
        author: "secretariat@unoct.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::MeetingRecord),
        language: Language::En,
        tlp: Tlp::Clear,
        to: To::Nobody,
        tags: &["coordination-committee"],
        title: "Summary of the Coordination Committee meeting",
        summary: "Decisions of the Compact's Coordination Committee.",
        body: "The Committee welcomed the new working group chairs and agreed the 2027 work plan.",
    },
    DemoItem {
        author: "focal.point@oic.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::En,
        tlp: Tlp::Green,
        to: To::Nobody,
        tags: &["events"],
        title: "Workshop on countering terrorist financing in Jeddah",
        body: "Registration is open until the end of the month.",
        summary: "",
    },
    DemoItem {
        author: "focal.point@interpol.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::Fr,
        tlp: Tlp::Amber,
        to: To::Orgs(&["OIC", "WCO"]),
        tags: &["sahel", "alerte"],
        title: "Alerte : nouvelle route de contrebande",
        body: "Une nouvelle route de contrebande a été signalée à la frontière nord.",
        summary: "",
    },
    DemoItem {
        author: "coordinator@oic.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::Ar,
        tlp: Tlp::Clear,
        to: To::Nobody,
        tags: &["events"],
        title: "مؤتمر إقليمي حول مكافحة الإرهاب",
        body: "تستضيف المنظمة مؤتمراً إقليمياً حول التعاون في مكافحة الإرهاب.",
        summary: "",
    },
    DemoItem {
        author: "coordinator@unicef.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::Zh,
        tlp: Tlp::Green,
        to: To::Nobody,
        tags: &["children"],
        title: "儿童保护工作组会议",
        body: "工作组将讨论营地儿童的教育问题。",
        summary: "",
    },
    DemoItem {
        author: "coordinator@uz.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::Ru,
        tlp: Tlp::Red,
        to: To::Person("secretariat@unoct.demo"),
        tags: &["central-asia"],
        title: "Запрос о технической помощи",
        body: "Узбекистан запрашивает экспертов по финансовым расследованиям.",
        summary: "",
    },
    DemoItem {
        author: "coordinator@caim.demo",
        kind: ItemKind::Update,
        doc_type: None,
        language: Language::Es,
        tlp: Tlp::AmberStrict,
        to: To::Orgs(&["AU"]),
        tags: &["prosecution"],
        title: "Reunión de fiscales especializados",
        body: "Los fiscales compartirán buenas prácticas en casos de terrorismo.",
        summary: "",
    },
    // Portuguese, a working language of the African Union: language `other`.
    DemoItem {
        author: "coordinator@au.demo",
        kind: ItemKind::Document,
        doc_type: Some(DocType::Report),
        language: Language::Other,
        tlp: Tlp::Green,
        to: To::Nobody,
        tags: &["pve", "mozambique"],
        title: "Relatório sobre a prevenção do extremismo violento em Cabo Delgado",
        summary: "Lições dos programas comunitários no norte de Moçambique.",
        body: "## Conclusões\nOs programas de diálogo comunitário reduziram o recrutamento de jovens em três distritos.\n\nRecomenda-se reforçar a cooperação entre as autoridades locais, os líderes religiosos e as organizações da sociedade civil.",
    },
];

fn principal(conn: &mut DbConnection, email: &str) -> Result<Principal, RegistryError> {
    let (user_id, org_id, role): (String, String, String) = users::table
        .filter(users::email_normalized.eq(email))
        .select((users::id, users::organization_id, users::role))
        .first(conn)?;
    Ok(Principal {
        user_id,
        org_id,
        role: role
            .parse::<Role>()
            .map_err(|e| RegistryError::invalid("role", e))?,
        api_key: None,
        mfa_satisfied: true,
    })
}

fn recipients(conn: &mut DbConnection, to: &To) -> Result<Recipients, RegistryError> {
    let mut out = Recipients::default();
    match to {
        To::Nobody => {}
        To::Orgs(acronyms) => {
            for acronym in *acronyms {
                out.organizations.insert(
                    organizations::table
                        .filter(organizations::acronym_normalized.eq(acronym.to_uppercase()))
                        .select(organizations::id)
                        .first(conn)?,
                );
            }
        }
        To::Group(name) => {
            out.groups.insert(
                groups::table
                    .filter(groups::name_normalized.eq(name.to_lowercase()))
                    .select(groups::id)
                    .first(conn)?,
            );
        }
        To::Person(email) => {
            out.users.insert(
                users::table
                    .filter(users::email_normalized.eq(*email))
                    .select(users::id)
                    .first(conn)?,
            );
        }
    }
    Ok(out)
}

/// Shares the demo items; returns (documents, updates). The first document is edited once,
/// so it has a version history.
pub(crate) fn seed(
    conn: &mut DbConnection,
    mail: &MailContext,
) -> Result<(usize, usize), RegistryError> {
    let (mut documents, mut updates) = (0, 0);
    let mut first_document = None;
    for demo in ITEMS {
        let author = principal(conn, demo.author)?;
        let input = ItemInput {
            title: demo.title.into(),
            summary: demo.summary.into(),
            body: demo.body.into(),
            language: demo.language,
            doc_type: demo.doc_type,
            tags: demo.tags.iter().map(|t| (*t).to_owned()).collect(),
            tlp: demo.tlp,
            recipients: recipients(conn, &demo.to)?,
        };
        let created = items::create(
            conn,
            &author,
            demo.kind,
            &input,
            None,
            mail,
            &Actor::default(),
        )?;
        match demo.kind {
            ItemKind::Document => {
                documents += 1;
                first_document.get_or_insert((author, created.item));
            }
            ItemKind::Update => updates += 1,
        }
    }
    if let Some((author, item)) = first_document {
        let patch = ItemPatch {
            summary: Some(
                "How member states screen, prosecute, rehabilitate and reintegrate returning fighters."
                    .into(),
            ),
            ..ItemPatch::default()
        };
        let etag = item.etag();
        edit::update(
            conn,
            &author,
            ItemKind::Document,
            &item.row.id,
            &etag,
            patch,
            mail,
            &Actor::default(),
        )?;
    }
    Ok((documents, updates))
}
