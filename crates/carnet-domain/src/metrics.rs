//! The metric catalogue (SPEC K4): every metric once, with its definition, its
//! unit, where its numbers come from and how it may be broken down; periods and
//! comparison periods. Flash figures, dashboards and the API all read it.

use crate::catalog::Catalog;
use crate::fields::{Entity, FieldKind};
use crate::i18n::Locale;
use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::Serialize;

/// How a metric's value reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    Count,
    Money,
    Percent,
    Hours,
    /// A count per something (actions per won deal).
    Ratio,
}

/// Where the numbers come from. Facts are the day/month sums maintained with
/// each write (cost independent of the data size); `Live` reads today's
/// maintained open-pipeline totals (or the daily snapshots for a past date);
/// `Raw` metrics are computed from the records through indexes, by design (see
/// ARCHITECTURE.md: they are rare, or bounded by the period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Deals,
    Actions,
    Effort,
    Pipeline,
    Raw,
}

/// What a metric can be split by: a named dimension, an account's tags in one
/// category, or a custom single-choice field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Breakdown {
    Owner,
    /// The account's status (customer, prospect…): the account type.
    Status,
    Segment,
    Source,
    SourceKind,
    Pipeline,
    Stage,
    Offer,
    ActionType,
    /// An email's template (email metrics).
    Template,
    Day,
    Week,
    Month,
    /// The account's tags in the category with this id (a record with several
    /// tags of a multiple category counts in each; the total counts it once).
    Tags(i64),
    /// The value of the single-choice custom field with this id, on the record
    /// of its entity linked to what is counted.
    Field(i64, Entity),
}

impl Breakdown {
    /// The named breakdowns (tag categories and fields come from the catalogue).
    pub const ALL: &'static [Breakdown] = &[
        Breakdown::Owner,
        Breakdown::Status,
        Breakdown::Segment,
        Breakdown::Source,
        Breakdown::SourceKind,
        Breakdown::Pipeline,
        Breakdown::Stage,
        Breakdown::Offer,
        Breakdown::ActionType,
        Breakdown::Template,
        Breakdown::Day,
        Breakdown::Week,
        Breakdown::Month,
    ];
    /// How a breakdown is written in a request: `owner`, `tags:3`, `field:7`.
    pub fn key(self) -> String {
        match self {
            Breakdown::Tags(id) => format!("tags:{id}"),
            Breakdown::Field(id, _) => format!("field:{id}"),
            named => named.name().to_string(),
        }
    }
    /// The name of a named breakdown (`tags` and `field` for the others).
    pub fn name(self) -> &'static str {
        match self {
            Breakdown::Owner => "owner",
            Breakdown::Status => "status",
            Breakdown::Segment => "segment",
            Breakdown::Source => "source",
            Breakdown::SourceKind => "source_kind",
            Breakdown::Pipeline => "pipeline",
            Breakdown::Stage => "stage",
            Breakdown::Offer => "offer",
            Breakdown::ActionType => "action_type",
            Breakdown::Template => "template",
            Breakdown::Day => "day",
            Breakdown::Week => "week",
            Breakdown::Month => "month",
            Breakdown::Tags(_) => "tags",
            Breakdown::Field(..) => "field",
        }
    }
    /// A breakdown as written in a request, resolved against the catalogue:
    /// a name, `tags:` and a tag category (id or name), or `field:` and a
    /// single-choice custom field (id or key).
    pub fn parse(s: &str, cat: &Catalog) -> Result<Self, String> {
        let s = s.trim();
        if let Some(raw) = s.strip_prefix("tags:") {
            let raw = raw.trim();
            return cat
                .categories
                .iter()
                .find(|c| c.id.to_string() == raw || c.name.eq_ignore_ascii_case(raw))
                .map(|c| Breakdown::Tags(c.id))
                .ok_or_else(|| format!("“{raw}” is not a tag category"));
        }
        if let Some(raw) = s.strip_prefix("field:") {
            let f = cat.resolve_field(raw)?;
            if f.kind != FieldKind::SingleChoice {
                return Err(format!("“{}” is not a single-choice field", f.label));
            }
            return Ok(Breakdown::Field(f.id, f.entity));
        }
        Self::ALL.iter().copied().find(|b| b.name() == s).ok_or_else(|| {
            format!(
                "“{s}” is not a breakdown (one of: {}, tags:<category>, field:<single-choice field>)",
                names(Self::ALL)
            )
        })
    }
    /// Every breakdown a catalogue offers: the named ones, each tag category
    /// and each single-choice custom field.
    pub fn offered(cat: &Catalog) -> Vec<Breakdown> {
        let mut out = Self::ALL.to_vec();
        out.extend(cat.categories.iter().map(|c| Breakdown::Tags(c.id)));
        out.extend(
            cat.fields
                .iter()
                .filter(|f| f.kind == FieldKind::SingleChoice)
                .map(|f| Breakdown::Field(f.id, f.entity)),
        );
        out
    }
    pub fn is_time(self) -> bool {
        matches!(self, Breakdown::Day | Breakdown::Week | Breakdown::Month)
    }
    /// Whether the breakdown comes from the catalogue (read from the records).
    pub fn is_custom(self) -> bool {
        matches!(self, Breakdown::Tags(_) | Breakdown::Field(..))
    }
}

impl Serialize for Breakdown {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.key())
    }
}

fn names(b: &[Breakdown]) -> String {
    b.iter().map(|x| x.name()).collect::<Vec<_>>().join(", ")
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub id: &'static str,
    pub unit: Unit,
    pub family: Family,
    pub name_en: &'static str,
    pub name_fr: &'static str,
    pub definition_en: &'static str,
    pub definition_fr: &'static str,
    pub breakdowns: &'static [Breakdown],
    /// Whether the value is "now" (or at the period's end) rather than over the period.
    pub at_end: bool,
    /// Only managers and administrators see it company-wide (money of others).
    pub managers_only: bool,
}

impl Metric {
    pub fn name(&self, l: Locale) -> &'static str {
        match l {
            Locale::Fr => self.name_fr,
            Locale::En => self.name_en,
        }
    }
    pub fn definition(&self, l: Locale) -> &'static str {
        match l {
            Locale::Fr => self.definition_fr,
            Locale::En => self.definition_en,
        }
    }
    /// Whether the metric can be split by `b`. Deals, actions and effort can
    /// be split by tags and custom fields too (deals and effort by the account's
    /// or the opportunity's fields: a deal has no one contact).
    pub fn allows(&self, b: Breakdown) -> bool {
        match b {
            Breakdown::Tags(_) => self.splits_by_catalogue(),
            Breakdown::Field(_, on) => self.splits_by_catalogue() && (on != Entity::Contact || self.family == Family::Actions),
            named => self.breakdowns.contains(&named),
        }
    }
    fn splits_by_catalogue(&self) -> bool {
        matches!(self.family, Family::Deals | Family::Actions | Family::Effort)
    }
    /// The filters the metric applies (the request parameters `owner`,
    /// `segment`, `source`, `pipeline`, `stage`, `offer`, `type`, `tag`,
    /// `field`, `currency`); any other is refused rather than ignored.
    pub fn filters(&self) -> &'static [&'static str] {
        match (self.family, self.id) {
            (Family::Deals, _) => &["owner", "segment", "source", "pipeline", "offer", "tag", "field", "currency"],
            (Family::Actions, _) => &["owner", "segment", "type", "tag", "field"],
            (Family::Effort, _) => &["owner", "segment", "type", "tag", "field", "currency"],
            (Family::Pipeline, _) => &["owner", "segment", "pipeline", "stage", "currency"],
            (Family::Raw, "stalled_opportunities") => &["owner", "pipeline", "stage"],
            (Family::Raw, "leads_from_marketing" | "lead_conversion" | "qualified_leads") => &["owner"],
            (Family::Raw, "cost_per_lead") => &["currency"],
            (Family::Raw, "page_views" | "website_visits" | "website_visitors") => &[],
            (Family::Raw, id) if id.starts_with("email") => &["owner"],
            (Family::Raw, "lifetime_basket") => &["segment", "currency"],
            (Family::Raw, _) => &["segment"],
        }
    }
    /// What the metric can be split by in this catalogue.
    pub fn breakdowns_in(&self, cat: &Catalog) -> Vec<Breakdown> {
        Breakdown::offered(cat).into_iter().filter(|b| self.allows(*b)).collect()
    }
    /// What the metric can be split by, for an error message.
    pub fn breakdown_names(&self) -> String {
        let mut s = names(self.breakdowns);
        if self.splits_by_catalogue() {
            s.push_str(", tags:<category>, field:<single-choice field>");
        }
        s
    }
}

/// Every filter parameter of a metric request.
pub const FILTERS: &[&str] = &[
    "owner", "segment", "source", "pipeline", "stage", "offer", "type", "tag", "field", "currency",
];

use Breakdown as B;

const DEAL_BREAKDOWNS: &[Breakdown] = &[
    B::Owner,
    B::Status,
    B::Segment,
    B::Source,
    B::SourceKind,
    B::Pipeline,
    B::Offer,
    B::Day,
    B::Week,
    B::Month,
];
const ACTION_BREAKDOWNS: &[Breakdown] = &[B::Owner, B::Segment, B::ActionType, B::Day, B::Week, B::Month];
const EFFORT_BREAKDOWNS: &[Breakdown] = &[B::Owner, B::Segment, B::ActionType, B::Day, B::Week, B::Month];
const PIPELINE_BREAKDOWNS: &[Breakdown] = &[B::Owner, B::Segment, B::Pipeline, B::Stage];

macro_rules! metric {
    ($id:literal, $unit:ident, $family:ident, $b:expr, $at_end:literal, $mgr:literal, $en:literal, $fr:literal, $den:literal, $dfr:literal) => {
        Metric {
            id: $id,
            unit: Unit::$unit,
            family: Family::$family,
            name_en: $en,
            name_fr: $fr,
            definition_en: $den,
            definition_fr: $dfr,
            breakdowns: $b,
            at_end: $at_end,
            managers_only: $mgr,
        }
    };
}

/// Email metrics split by the sender (the rep), the template and time.
const EMAIL_BREAKDOWNS: &[Breakdown] = &[
    Breakdown::Owner,
    Breakdown::Template,
    Breakdown::Day,
    Breakdown::Week,
    Breakdown::Month,
];

pub const CATALOGUE: &[Metric] = &[
    metric!("opportunities_created", Count, Deals, DEAL_BREAKDOWNS, false, false,
        "Opportunities created", "Opportunités créées",
        "Number of opportunities whose creation date falls in the period, in every currency. By source kind: marketing, sales or other.",
        "Nombre d'opportunités dont la date de création tombe dans la période, toutes devises. Par type d'origine : marketing, commercial ou autre."),
    metric!("opportunities_created_amount", Money, Deals, DEAL_BREAKDOWNS, false, false,
        "Amount of opportunities created", "Montant des opportunités créées",
        "Sum of the amounts of the opportunities created in the period, in the company currency (or the one asked); deals in other currencies are left out.",
        "Somme des montants des opportunités créées dans la période, dans la devise de l'entreprise (ou celle demandée) ; les affaires en d'autres devises n'y sont pas."),
    metric!("opportunities_won", Count, Deals, DEAL_BREAKDOWNS, false, false,
        "Opportunities won", "Opportunités gagnées",
        "Number of opportunities closed as won in the period (by their closing date), in every currency.",
        "Nombre d'opportunités conclues gagnées dans la période (date de clôture), toutes devises."),
    metric!("won_amount", Money, Deals, DEAL_BREAKDOWNS, false, false,
        "Amount won", "Montant gagné",
        "Sum of the amounts of the opportunities won in the period, in the company currency (or the one asked).",
        "Somme des montants des opportunités gagnées dans la période, dans la devise de l'entreprise (ou celle demandée)."),
    metric!("opportunities_lost", Count, Deals, DEAL_BREAKDOWNS, false, false,
        "Opportunities lost", "Opportunités perdues",
        "Number of opportunities closed as lost in the period, in every currency.",
        "Nombre d'opportunités conclues perdues dans la période, toutes devises."),
    metric!("lost_amount", Money, Deals, DEAL_BREAKDOWNS, false, false,
        "Amount lost", "Montant perdu",
        "Sum of the amounts of the opportunities lost in the period.",
        "Somme des montants des opportunités perdues dans la période."),
    metric!("transformation_rate", Percent, Deals, DEAL_BREAKDOWNS, false, false,
        "Transformation rate", "Taux de transformation",
        "Won ÷ (won + lost), over the opportunities closed in the period, in every currency.",
        "Gagnées ÷ (gagnées + perdues), sur les opportunités conclues dans la période, toutes devises."),
    metric!("average_basket", Money, Deals, DEAL_BREAKDOWNS, false, false,
        "Average basket", "Panier moyen",
        "Amount won ÷ number of opportunities won in the period, both in the company currency (or the one asked) (by segment: the account type).",
        "Montant gagné ÷ nombre d'opportunités gagnées dans la période, toutes deux dans la devise de l'entreprise (ou celle demandée) (par segment : le type de compte)."),
    metric!("revenue", Money, Deals, DEAL_BREAKDOWNS, false, true,
        "Revenue", "Chiffre d'affaires",
        "Sum of the amounts of the opportunities won in the period, in the company currency (or the one asked).",
        "Somme des montants des opportunités gagnées dans la période, dans la devise de l'entreprise (ou celle demandée)."),
    metric!("margin", Money, Deals, DEAL_BREAKDOWNS, false, true,
        "Margin", "Marge",
        "Sum of the margins of the opportunities won in the period (those without a margin count 0).",
        "Somme des marges des opportunités gagnées dans la période (sans marge : 0)."),
    metric!("time_spent", Hours, Actions, ACTION_BREAKDOWNS, false, false,
        "Time spent", "Temps passé",
        "Sum of the actual durations of the actions done in the period (by the day they were done), in hours.",
        "Somme des durées réelles des actions faites dans la période (jour où elles ont été faites), en heures."),
    metric!("actions_done", Count, Actions, ACTION_BREAKDOWNS, false, false,
        "Actions done", "Actions réalisées",
        "Number of actions done in the period — the sales effort, by action type, segment and rep.",
        "Nombre d'actions faites dans la période — l'effort commercial, par type d'action, segment et commercial."),
    metric!("actions_per_won_deal", Ratio, Effort, EFFORT_BREAKDOWNS, false, false,
        "Actions per won deal", "Actions par affaire gagnée",
        "Done actions linked to the opportunities won in the period ÷ number of those opportunities (by the rep who did them, by type, by segment).",
        "Actions faites liées aux opportunités gagnées dans la période ÷ nombre de ces opportunités (par commercial, type, segment)."),
    metric!("hours_per_won_deal", Hours, Effort, EFFORT_BREAKDOWNS, false, false,
        "Hours per won deal", "Heures par affaire gagnée",
        "Hours spent on the done actions linked to the opportunities won in the period ÷ number of those opportunities, in every currency (by the rep who did them, by type, by segment).",
        "Heures passées sur les actions faites liées aux opportunités gagnées dans la période ÷ nombre de ces opportunités, toutes devises (par commercial, type, segment)."),
    metric!("opportunity_cost_won", Money, Effort, EFFORT_BREAKDOWNS, false, true,
        "Cost of deals won", "Coût des affaires gagnées",
        "Hours spent on the actions of the opportunities won in the period × each rep's hourly cost.",
        "Heures passées sur les actions des opportunités gagnées dans la période × coût horaire de chaque commercial."),
    metric!("opportunity_cost_lost", Money, Effort, EFFORT_BREAKDOWNS, false, true,
        "Cost of deals lost", "Coût des affaires perdues",
        "Hours spent on the actions of the opportunities lost in the period × each rep's hourly cost.",
        "Heures passées sur les actions des opportunités perdues dans la période × coût horaire de chaque commercial."),
    metric!("weighted_pipeline", Money, Pipeline, PIPELINE_BREAKDOWNS, true, false,
        "Weighted pipeline", "Pipeline pondéré",
        "Σ amount × stage probability of the open opportunities at the end of the period (today, or the daily snapshot of a past day).",
        "Σ montant × probabilité de l'étape des opportunités ouvertes à la fin de la période (aujourd'hui, ou l'instantané d'un jour passé)."),
    metric!("open_pipeline", Money, Pipeline, PIPELINE_BREAKDOWNS, true, false,
        "Open pipeline", "Pipeline ouvert",
        "Sum of the amounts of the open opportunities at the end of the period.",
        "Somme des montants des opportunités ouvertes à la fin de la période."),
    metric!("open_opportunities", Count, Pipeline, PIPELINE_BREAKDOWNS, true, false,
        "Open opportunities", "Opportunités ouvertes",
        "Number of open opportunities at the end of the period, in every currency.",
        "Nombre d'opportunités ouvertes à la fin de la période, toutes devises."),
    metric!("stalled_opportunities", Count, Raw, &[B::Owner, B::Pipeline, B::Stage], true, false,
        "Stalled opportunities", "Opportunités en panne",
        "Open opportunities that have stayed in their stage longer than the stage allows, now.",
        "Opportunités ouvertes restées dans leur étape plus longtemps que l'étape ne le permet, maintenant."),
    metric!("leads_from_marketing", Count, Raw, &[B::Owner, B::Day, B::Week, B::Month], false, false,
        "Leads from marketing", "Leads issus du marketing",
        "Contacts created in the period by a form (hosted or embedded), or whose source is a marketing source.",
        "Contacts créés dans la période par un formulaire (hébergé ou intégré), ou dont l'origine est une origine marketing."),
    metric!("qualified_leads", Count, Raw, &[B::Owner, B::Day, B::Week, B::Month], false, false,
        "Qualified leads", "Leads qualifiés",
        "Contacts that became qualified leads in the period: an interest shown (a scoring threshold crossed, a meeting booked, \"please call me\" ticked on a form) with their email and phone known.",
        "Contacts devenus leads qualifiés dans la période : un intérêt manifesté (seuil de score franchi, rendez-vous pris, « rappelez-moi » coché sur un formulaire) avec e-mail et téléphone connus."),
    metric!("cost_per_lead", Money, Raw, &[], false, true,
        "Cost per lead", "Coût par lead",
        "Campaign costs dated in the period (in the currency asked) ÷ leads from marketing created in the period.",
        "Dépenses de campagne datées dans la période (dans la devise demandée) ÷ leads issus du marketing créés dans la période."),
    metric!("page_views", Count, Raw, &[B::Day, B::Week, B::Month], false, false,
        "Page views", "Pages vues",
        "Pages of the tracked websites seen in the period (Do Not Track, refused consent and bots that run no script are not counted).",
        "Pages des sites web suivis vues dans la période (hors Do Not Track, consentement refusé et robots qui n'exécutent pas de script)."),
    metric!("website_visits", Count, Raw, &[B::Day, B::Week, B::Month], false, false,
        "Website visits", "Visites du site web",
        "Visits that began in the period: a visit is a visitor's page views with less than 30 minutes between them.",
        "Visites commencées dans la période : une visite regroupe les pages vues d'un visiteur à moins de 30 minutes d'intervalle."),
    metric!("website_visitors", Count, Raw, &[B::Day, B::Week, B::Month], false, false,
        "Website visitors", "Visiteurs du site web",
        "Distinct visitors (browsers) who saw at least one page in the period (per day, week or month when split).",
        "Visiteurs distincts (navigateurs) ayant vu au moins une page dans la période (par jour, semaine ou mois si découpé)."),
    metric!("emails_sent", Count, Raw, EMAIL_BREAKDOWNS, false, false,
        "Emails sent", "E-mails envoyés",
        "Messages the relay accepted in the period (by the time it accepted them): every kind, a rep's own, reminders, marketing.",
        "Messages acceptés par le relais dans la période (à l'heure où il les a acceptés) : tous, ceux d'un commercial, les rappels, le marketing."),
    metric!("email_open_rate", Percent, Raw, EMAIL_BREAKDOWNS, false, false,
        "Email open rate", "Taux d'ouverture des e-mails",
        "Of the messages sent in the period, the share a person opened at least once (image proxies, Apple Mail Privacy Protection and scanners do not count); messages sent without tracking are left out.",
        "Des messages envoyés dans la période, la part qu'une personne a ouverte au moins une fois (proxys d'images, protection de la confidentialité d'Apple Mail et scanners exclus) ; les messages envoyés sans suivi n'y sont pas."),
    metric!("email_click_rate", Percent, Raw, EMAIL_BREAKDOWNS, false, false,
        "Email click rate", "Taux de clic des e-mails",
        "Of the tracked messages sent in the period, the share in which a person clicked a link at least once (scanners do not count).",
        "Des messages suivis envoyés dans la période, la part dans laquelle une personne a cliqué au moins un lien (scanners exclus)."),
    metric!("email_unsubscribe_rate", Percent, Raw, EMAIL_BREAKDOWNS, false, false,
        "Unsubscribe rate", "Taux de désinscription",
        "Of the messages sent in the period, the share whose recipient unsubscribed through that message.",
        "Des messages envoyés dans la période, la part dont le destinataire s'est désinscrit par ce message."),
    metric!("email_bounce_rate", Percent, Raw, EMAIL_BREAKDOWNS, false, false,
        "Bounce rate", "Taux de rejet",
        "Of the messages handed to the relay in the period (sent or refused), the share that bounced for good: refused at sending (5xx on the mailbox) or reported undeliverable afterwards.",
        "Des messages remis au relais dans la période (envoyés ou refusés), la part rejetée définitivement : refusée à l'envoi (5xx sur la boîte) ou signalée non remise ensuite."),
    metric!("lead_conversion", Percent, Raw, &[B::Owner], false, false,
        "Lead conversion", "Conversion des leads",
        "Of the leads from marketing created in the period: the share whose account got an opportunity afterwards, then the share won (a funnel).",
        "Parmi les leads marketing créés dans la période : la part dont le compte a ensuite eu une opportunité, puis la part gagnée (un entonnoir)."),
    metric!("customer_acquisition_cost", Money, Raw, &[B::Segment], false, true,
        "Customer acquisition cost", "Coût d'acquisition client",
        "(Campaign costs of the period — cost entries dated in it, in the segment each campaign targets — plus the time cost of the actions on the accounts that became customers in the period, up to their first won deal) ÷ those new customers. A new customer is an account whose first won deal closes in the period; the time cost is each action's time × its rep's hourly cost.",
        "(Coûts des campagnes de la période — les dépenses datées dans la période, dans le segment que vise chaque campagne — plus le coût du temps des actions sur les comptes devenus clients dans la période, jusqu'à leur première affaire gagnée) ÷ ces nouveaux clients. Un nouveau client est un compte dont la première affaire gagnée est conclue dans la période ; le coût du temps est la durée de chaque action × le coût horaire de son commercial."),
    metric!("lifetime_basket", Money, Raw, &[B::Segment], true, true,
        "Lifetime value per customer", "Valeur vie client",
        "Everything a customer has brought (won opportunities and orders) ÷ number of customers, at the end of the period.",
        "Tout ce qu'un client a rapporté (opportunités gagnées et commandes) ÷ nombre de clients, à la fin de la période."),
    metric!("segment_size", Count, Raw, &[B::Segment], true, false,
        "Segment size", "Taille des segments",
        "Number of accounts carrying each segment tag at the end of the period (daily snapshots for past days).",
        "Nombre de comptes portant chaque étiquette de segment à la fin de la période (instantanés quotidiens pour les jours passés)."),
];

pub fn find(id: &str) -> Result<&'static Metric, String> {
    CATALOGUE
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| format!("“{id}” is not a metric of the catalogue"))
}

/// Days from the first to the second, both included.
pub type Span = (NaiveDate, NaiveDate);

/// A period: days from `from` to `to`, both included, in the reporting zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub const PRESETS: &[&str] = &[
    "today",
    "this_week",
    "last_week",
    "this_month",
    "last_month",
    "this_quarter",
    "last_quarter",
    "this_year",
    "last_year",
    "last_30_days",
    "last_12_months",
];

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap()
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1).unwrap()
}

impl Period {
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, String> {
        if to < from {
            return Err("the period ends before it starts".into());
        }
        if (to - from).num_days() > 366 * 10 {
            return Err("the period is longer than ten years".into());
        }
        Ok(Period { from, to })
    }

    /// A named period around `today`.
    pub fn preset(name: &str, today: NaiveDate) -> Result<Self, String> {
        let monday = today - Duration::days(today.weekday().num_days_from_monday() as i64);
        let (from, to) = match name {
            "today" => (today, today),
            "this_week" => (monday, monday + Duration::days(6)),
            "last_week" => (monday - Duration::days(7), monday - Duration::days(1)),
            "this_month" => {
                let s = month_start(today);
                (s, s + Months::new(1) - Duration::days(1))
            }
            "last_month" => {
                let s = month_start(today) - Months::new(1);
                (s, month_start(today) - Duration::days(1))
            }
            "this_quarter" => {
                let s = quarter_start(today);
                (s, s + Months::new(3) - Duration::days(1))
            }
            "last_quarter" => {
                let s = quarter_start(today) - Months::new(3);
                (s, quarter_start(today) - Duration::days(1))
            }
            "this_year" => (
                NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(today.year(), 12, 31).unwrap(),
            ),
            "last_year" => (
                NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(today.year() - 1, 12, 31).unwrap(),
            ),
            "last_30_days" => (today - Duration::days(29), today),
            "last_12_months" => (month_start(today) - Months::new(11), today),
            other => {
                return Err(format!(
                    "“{other}” is not a period (one of: {}, or from and to)",
                    PRESETS.join(", ")
                ))
            }
        };
        Ok(Period { from, to })
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// The period just before, of the same length (whole months stay whole months).
    pub fn previous(&self) -> Period {
        if self.from.day() == 1 && (self.to + Duration::days(1)).day() == 1 {
            let months = (self.to.year() - self.from.year()) * 12 + self.to.month() as i32 - self.from.month() as i32 + 1;
            let from = self.from - Months::new(months as u32);
            return Period {
                from,
                to: self.from - Duration::days(1),
            };
        }
        Period {
            from: self.from - Duration::days(self.days()),
            to: self.from - Duration::days(1),
        }
    }

    /// The same period a year earlier.
    pub fn year_before(&self) -> Period {
        let back = |d: NaiveDate| d - Months::new(12);
        let to = if (self.to + Duration::days(1)).day() == 1 {
            // Keep month ends month ends (29 February → 28 February).
            back(self.to + Duration::days(1)) - Duration::days(1)
        } else {
            back(self.to)
        };
        Period { from: back(self.from), to }
    }

    /// Whole months inside the period, and the days outside them.
    pub fn split(&self) -> (Vec<Span>, Option<Span>) {
        // Days before the first whole month, whole months, days after.
        let first_month = if self.from.day() == 1 {
            self.from
        } else {
            month_start(self.from) + Months::new(1)
        };
        let end_next = self.to + Duration::days(1);
        let last_month_end = month_start(end_next); // exclusive
        if first_month >= last_month_end {
            return (vec![(self.from, self.to)], None);
        }
        let mut days = Vec::new();
        if self.from < first_month {
            days.push((self.from, first_month - Duration::days(1)));
        }
        let months = Some((first_month, last_month_end - Duration::days(1)));
        if last_month_end <= self.to {
            days.push((last_month_end, self.to));
        }
        (days, months)
    }
}

/// The ISO week a day belongs to, as `2026-W09`.
pub fn week_key(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// The pure part of every metric: how many sums ("parts") its family keeps per
/// group, and the formula that turns them into the value. The engine computes
/// the parts (from facts or records) and ends here either way.
/// Number of parts per family.
pub fn width(m: &Metric) -> usize {
    match (m.family, m.id) {
        (Family::Deals, _) => 8,
        (Family::Actions, _) => 2,
        (Family::Effort, _) => 7,
        (Family::Pipeline, _) => 3,
        (Family::Raw, "lead_conversion") => 3,
        (Family::Raw, id) if id.starts_with("email") => EMAIL_PARTS,
        (Family::Raw, _) => 2,
    }
}

/// The parts of the email metrics (see [`formula`]).
pub const EMAIL_PARTS: usize = 7;

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0).then(|| a / b)
}

/// A metric's value from its parts. Money parts are in cents; values in units.
pub fn formula(m: &Metric, p: &[f64]) -> Option<f64> {
    let cents = |x: f64| x / 100.0;
    Some(match m.id {
        "opportunities_created" => p[0],
        "opportunities_created_amount" => cents(p[1]),
        "opportunities_won" => p[2],
        "won_amount" | "revenue" => cents(p[3]),
        "margin" => cents(p[4]),
        "opportunities_lost" => p[5],
        "lost_amount" => cents(p[6]),
        "transformation_rate" => ratio(p[2], p[2] + p[5])? * 100.0,
        "average_basket" => cents(ratio(p[3], p[7])?),
        "time_spent" => p[1] / 60.0,
        "actions_done" => p[0],
        "actions_per_won_deal" => ratio(p[0], p[6])?,
        "hours_per_won_deal" => ratio(p[1] / 60.0, p[6])?,
        "opportunity_cost_won" => cents(p[4]),
        "opportunity_cost_lost" => cents(p[5]),
        "open_opportunities" => p[0],
        "open_pipeline" => cents(p[1]),
        // Cent-percents (Σ amount × probability), divided once here.
        "weighted_pipeline" => cents(p[2] / 100.0),
        "stalled_opportunities"
        | "leads_from_marketing"
        | "segment_size"
        | "qualified_leads"
        | "page_views"
        | "website_visits"
        | "website_visitors" => p[0],
        "cost_per_lead" => cents(ratio(p[1], p[0])?),
        "lead_conversion" => ratio(p[2], p[0])? * 100.0,
        // Parts: handed to the relay, sent, sent with tracking, opened, clicked, unsubscribed, bounced.
        "emails_sent" => p[1],
        "email_open_rate" => ratio(p[3], p[2])? * 100.0,
        "email_click_rate" => ratio(p[4], p[2])? * 100.0,
        "email_unsubscribe_rate" => ratio(p[5], p[1])? * 100.0,
        "email_bounce_rate" => ratio(p[6], p[0])? * 100.0,
        "customer_acquisition_cost" | "lifetime_basket" => cents(ratio(p[1], p[0])?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn catalogue_ids_are_unique_and_breakdowns_parse() {
        let mut ids: Vec<&str> = CATALOGUE.iter().map(|m| m.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOGUE.len());
        let cat = Catalog::default();
        for b in Breakdown::ALL {
            assert_eq!(Breakdown::parse(b.name(), &cat), Ok(*b));
            assert_eq!(b.key(), b.name());
        }
        assert!(Breakdown::parse("colour", &cat).is_err());
        assert!(Breakdown::parse("tags:1", &cat).is_err());
        assert!(find("nope").is_err());
    }

    #[test]
    fn tag_categories_and_single_choice_fields_are_breakdowns() {
        use crate::catalog::CategoryDef;
        use crate::fields::FieldDef;
        let field = |id, entity, key: &str, kind| FieldDef {
            id,
            entity,
            key: key.into(),
            label: key.into(),
            kind,
            choices: vec!["A".into()],
        };
        let cat = Catalog {
            categories: vec![CategoryDef {
                id: 4,
                name: "Interests".into(),
                multi: true,
                is_segment: false,
                tags: vec![],
            }],
            fields: vec![
                field(7, Entity::Account, "tier", FieldKind::SingleChoice),
                field(8, Entity::Contact, "persona", FieldKind::SingleChoice),
                field(9, Entity::Account, "topics", FieldKind::MultipleChoice),
            ],
            ..Catalog::default()
        };
        assert_eq!(Breakdown::parse("tags:4", &cat), Ok(Breakdown::Tags(4)));
        assert_eq!(Breakdown::parse("tags:interests", &cat), Ok(Breakdown::Tags(4)));
        assert_eq!(Breakdown::parse("field:tier", &cat), Ok(Breakdown::Field(7, Entity::Account)));
        assert_eq!(Breakdown::parse(" field:7 ", &cat).map(Breakdown::key), Ok("field:7".into()));
        assert!(Breakdown::parse("field:topics", &cat).unwrap_err().contains("single-choice"));
        assert!(Breakdown::parse("tags:5", &cat).is_err());
        let won = find("won_amount").unwrap();
        let time = find("time_spent").unwrap();
        let pipeline = find("weighted_pipeline").unwrap();
        assert!(won.allows(Breakdown::Tags(4)) && won.allows(Breakdown::Field(7, Entity::Account)));
        assert!(!won.allows(Breakdown::Field(8, Entity::Contact)), "a deal has no one contact");
        assert!(time.allows(Breakdown::Field(8, Entity::Contact)));
        assert!(!pipeline.allows(Breakdown::Tags(4)));
        assert_eq!(Breakdown::offered(&cat).len(), Breakdown::ALL.len() + 3);
        assert_eq!(won.breakdowns_in(&cat).len(), won.breakdowns.len() + 2);
    }

    #[test]
    fn presets_and_comparisons() {
        let today = d("2026-03-18");
        let m = Period::preset("this_month", today).unwrap();
        assert_eq!((m.from, m.to), (d("2026-03-01"), d("2026-03-31")));
        assert_eq!(
            m.previous(),
            Period {
                from: d("2026-02-01"),
                to: d("2026-02-28")
            }
        );
        assert_eq!(
            m.year_before(),
            Period {
                from: d("2025-03-01"),
                to: d("2025-03-31")
            }
        );
        let q = Period::preset("this_quarter", today).unwrap();
        assert_eq!((q.from, q.to), (d("2026-01-01"), d("2026-03-31")));
        assert_eq!(q.previous().from, d("2025-10-01"));
        let w = Period::preset("this_week", today).unwrap();
        assert_eq!((w.from, w.to), (d("2026-03-16"), d("2026-03-22")));
        assert_eq!(w.previous().from, d("2026-03-09"));
        let leap = Period::new(d("2024-02-01"), d("2024-02-29")).unwrap();
        assert_eq!(leap.year_before().to, d("2023-02-28"));
        assert!(Period::new(d("2026-03-02"), d("2026-03-01")).is_err());
        assert!(Period::preset("someday", today).is_err());
    }

    proptest! {
        /// The days and whole months of a split cover the period exactly once.
        #[test]
        fn split_covers_each_day_once(start in 0i64..3000, len in 0i64..800) {
            let from = d("2020-01-01") + Duration::days(start);
            let p = Period::new(from, from + Duration::days(len)).unwrap();
            let (days, months) = p.split();
            let mut covered = 0;
            let mut all: Vec<(NaiveDate, NaiveDate)> = days.clone();
            if let Some((a, b)) = months {
                prop_assert_eq!(a.day(), 1);
                prop_assert_eq!((b + Duration::days(1)).day(), 1);
                all.push((a, b));
            }
            all.sort();
            for w in all.windows(2) {
                prop_assert!(w[0].1 < w[1].0);
            }
            for (a, b) in &all {
                prop_assert!(a <= b && *a >= p.from && *b <= p.to);
                covered += (*b - *a).num_days() + 1;
            }
            prop_assert_eq!(covered, p.days());
        }

        #[test]
        fn previous_periods_end_the_day_before(start in 0i64..3000, len in 0i64..400) {
            let from = d("2020-01-01") + Duration::days(start);
            let p = Period::new(from, from + Duration::days(len)).unwrap();
            let prev = p.previous();
            prop_assert_eq!(prev.to + Duration::days(1), p.from);
            prop_assert!(prev.from <= prev.to);
        }
    }
}
