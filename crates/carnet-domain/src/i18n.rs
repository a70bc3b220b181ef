//! Interface languages (SPEC P4): English and French, chosen per user, with dates,
//! numbers and money formatted per locale, and times shown in the user's zone.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Locale {
    #[default]
    En,
    Fr,
}

impl Locale {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Locale::En),
            "fr" => Ok(Locale::Fr),
            _ => Err("must be en or fr".into()),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Fr => "fr",
        }
    }
}

pub fn parse_time_zone(s: &str) -> Result<Tz, String> {
    s.trim()
        .parse::<Tz>()
        .map_err(|_| format!("“{}” is not a known time zone", s.trim()))
}

/// A locale and a zone: what a page needs to show text, dates and numbers.
#[derive(Debug, Clone, Copy)]
pub struct Fmt {
    pub locale: Locale,
    pub tz: Tz,
}

const MONTHS_EN: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTHS_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.",
];

impl Fmt {
    pub fn new(locale: Locale, tz: Tz) -> Self {
        Self { locale, tz }
    }
    /// The translated text for a key; the key itself if it has none (a test checks
    /// that every key used has both languages).
    /// The text of a key in the locale. An unknown key is a programming error
    /// (the catalogue test checks every key used in templates): it reads as a
    /// visible marker rather than leaking a string per call.
    pub fn t(&self, key: &str) -> &'static str {
        lookup(self.locale, key)
    }
    pub fn date(&self, d: NaiveDate) -> String {
        match self.locale {
            Locale::En => format!("{} {}, {}", MONTHS_EN[d.month0() as usize], d.day(), d.year()),
            Locale::Fr => format!("{} {} {}", d.day(), MONTHS_FR[d.month0() as usize], d.year()),
        }
    }
    /// A UTC instant (unix seconds) as date and time in the viewer's zone.
    pub fn datetime(&self, unix: i64) -> String {
        let Some(utc) = DateTime::<Utc>::from_timestamp(unix, 0) else {
            return String::new();
        };
        let local = self.tz.from_utc_datetime(&utc.naive_utc());
        let date = self.date(local.date_naive());
        match self.locale {
            Locale::En => {
                let (pm, h) = local.hour12();
                format!("{date}, {h}:{:02} {}", local.minute(), if pm { "PM" } else { "AM" })
            }
            Locale::Fr => format!("{date} {:02}:{:02}", local.hour(), local.minute()),
        }
    }
    pub fn date_of(&self, unix: i64) -> String {
        DateTime::<Utc>::from_timestamp(unix, 0)
            .map(|u| self.date(self.tz.from_utc_datetime(&u.naive_utc()).date_naive()))
            .unwrap_or_default()
    }
    pub fn number(&self, n: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, n.abs());
        let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
        let (group, dec) = match self.locale {
            Locale::En => (",", "."),
            Locale::Fr => ("\u{202f}", ","),
        };
        let mut out = String::new();
        for (i, c) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                out.push_str(group);
            }
            out.push(c);
        }
        if !frac.is_empty() {
            out.push_str(dec);
            out.push_str(frac);
        }
        if n < 0.0 && out.chars().any(|c| c.is_ascii_digit() && c != '0') {
            out.insert(0, '-');
        }
        out
    }
    pub fn integer(&self, n: i64) -> String {
        self.number(n as f64, 0)
    }
    /// Cents as money in a currency.
    pub fn money(&self, cents: i64, currency: &str) -> String {
        let n = self.number(cents as f64 / 100.0, 2);
        let sym = match currency {
            "EUR" => "€",
            "USD" => "$",
            "GBP" => "£",
            other => other,
        };
        match self.locale {
            Locale::En if sym.chars().count() == 1 => {
                if let Some(rest) = n.strip_prefix('-') {
                    format!("-{sym}{rest}")
                } else {
                    format!("{sym}{n}")
                }
            }
            _ => format!("{n}\u{a0}{sym}"),
        }
    }
}

/// What an unknown key reads as.
pub const MISSING: &str = "[?]";

fn lookup(locale: Locale, key: &str) -> &'static str {
    static TABLE: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| STRINGS.iter().map(|(k, en, fr)| (*k, (*en, *fr))).collect());
    match table.get(key) {
        Some((en, fr)) => match locale {
            Locale::En => en,
            Locale::Fr => fr,
        },
        None => MISSING,
    }
}

pub fn has_key(key: &str) -> bool {
    STRINGS.iter().any(|(k, _, _)| *k == key)
}

/// Every interface text: key, English, French.
pub static STRINGS: &[(&str, &str, &str)] = &[
    (
        "app.tagline",
        "Your sales model, in daily practice",
        "Votre modèle commercial, au quotidien",
    ),
    ("nav.home", "Home", "Accueil"),
    ("nav.accounts", "Accounts", "Comptes"),
    ("nav.contacts", "Contacts", "Contacts"),
    ("nav.search", "Search", "Recherche"),
    ("nav.settings", "Settings", "Paramètres"),
    ("nav.profile", "My profile", "Mon profil"),
    ("nav.logout", "Log out", "Se déconnecter"),
    ("nav.menu", "Menu", "Menu"),
    ("login.title", "Sign in to Carnet", "Connexion à Carnet"),
    ("login.submit", "Sign in", "Se connecter"),
    ("login.failed", "Wrong email or password.", "Email ou mot de passe incorrect."),
    (
        "login.throttled",
        "Too many attempts. Wait a minute and try again.",
        "Trop de tentatives. Patientez une minute puis réessayez.",
    ),
    ("setup.title", "Create the first administrator", "Créer le premier administrateur"),
    (
        "setup.intro",
        "Carnet has no user yet. This one-time page creates the administrator account.",
        "Carnet n'a pas encore d'utilisateur. Cette page, à usage unique, crée le compte administrateur.",
    ),
    (
        "setup.invalid",
        "This setup link is invalid or has already been used.",
        "Ce lien d'installation est invalide ou a déjà servi.",
    ),
    ("field.email", "Email", "Email"),
    ("field.password", "Password", "Mot de passe"),
    ("field.name", "Name", "Nom"),
    ("field.first_name", "First name", "Prénom"),
    ("field.last_name", "Last name", "Nom"),
    ("field.status", "Status", "Statut"),
    ("field.owner", "Owner", "Responsable"),
    ("field.phone", "Phone", "Téléphone"),
    ("field.mobile", "Mobile", "Portable"),
    ("field.website", "Website", "Site web"),
    ("field.address", "Address", "Adresse"),
    ("field.postal_code", "Postal code", "Code postal"),
    ("field.city", "City", "Ville"),
    ("field.country", "Country", "Pays"),
    ("field.company_id", "Company ID (SIREN/SIRET)", "Identifiant (SIREN/SIRET)"),
    ("field.vat_number", "VAT number", "N° de TVA"),
    ("field.source", "Source", "Origine"),
    ("field.description", "Description", "Description"),
    ("field.job_title", "Job title", "Fonction"),
    ("field.tags", "Tags", "Étiquettes"),
    ("field.role", "Role", "Rôle"),
    ("field.account", "Account", "Compte"),
    ("field.locale", "Language", "Langue"),
    ("field.time_zone", "Time zone", "Fuseau horaire"),
    ("field.created_at", "Created", "Créé le"),
    ("field.updated_at", "Updated", "Modifié le"),
    ("field.color", "Colour", "Couleur"),
    ("field.label", "Label", "Libellé"),
    ("field.key", "Key", "Clé"),
    ("field.kind", "Type", "Type"),
    ("field.choices", "Choices (one per line)", "Choix (un par ligne)"),
    ("field.entity", "Record type", "Type de fiche"),
    ("field.multi", "Several tags allowed", "Plusieurs étiquettes possibles"),
    ("field.segment", "Used as segment", "Sert de segment"),
    ("field.from_status", "From status", "À partir du statut"),
    ("field.always", "Always", "Toujours"),
    ("field.field", "Field", "Champ"),
    ("field.user_role", "Role", "Rôle"),
    ("field.active", "Active", "Actif"),
    ("action.save", "Save", "Enregistrer"),
    ("action.create", "Create", "Créer"),
    ("action.edit", "Edit", "Modifier"),
    ("action.delete", "Delete", "Supprimer"),
    ("action.cancel", "Cancel", "Annuler"),
    ("action.add", "Add", "Ajouter"),
    ("action.filter", "Filter", "Filtrer"),
    ("action.reset", "Reset", "Réinitialiser"),
    ("action.export_csv", "Export CSV", "Exporter en CSV"),
    ("action.save_view", "Save this view", "Enregistrer cette vue"),
    ("action.next_page", "Next page", "Page suivante"),
    ("action.first_page", "First page", "Première page"),
    ("action.create_anyway", "Create anyway", "Créer quand même"),
    ("action.upload", "Upload", "Envoyer"),
    ("action.link", "Link", "Lier"),
    ("action.unlink", "Remove link", "Retirer le lien"),
    ("action.post_comment", "Post comment", "Publier"),
    (
        "action.confirm_delete",
        "Delete this record and its history?",
        "Supprimer cette fiche et son historique ?",
    ),
    ("accounts.title", "Accounts", "Comptes"),
    ("accounts.new", "New account", "Nouveau compte"),
    (
        "accounts.empty",
        "No account matches these filters.",
        "Aucun compte ne correspond à ces filtres.",
    ),
    ("contacts.title", "Contacts", "Contacts"),
    ("contacts.new", "New contact", "Nouveau contact"),
    (
        "contacts.empty",
        "No contact matches these filters.",
        "Aucun contact ne correspond à ces filtres.",
    ),
    ("contacts.on_account", "Contacts", "Contacts"),
    ("contacts.accounts", "Accounts", "Comptes"),
    ("card.details", "Details", "Informations"),
    ("card.timeline", "Timeline", "Historique"),
    (
        "card.comment_placeholder",
        "Write a note for your colleagues…",
        "Écrivez une note pour vos collègues…",
    ),
    ("card.attachments", "Attachments", "Pièces jointes"),
    ("card.no_attachments", "No file yet.", "Aucun fichier."),
    ("card.custom_fields", "Custom fields", "Champs personnalisés"),
    ("card.add_contact", "Link a contact", "Lier un contact"),
    ("card.no_contacts", "No contact linked yet.", "Aucun contact lié."),
    ("card.no_accounts", "Not linked to an account.", "Lié à aucun compte."),
    ("card.empty_timeline", "Nothing here yet.", "Rien pour l'instant."),
    ("dup.title", "Possible duplicates", "Doublons possibles"),
    (
        "dup.intro",
        "These records look like the one you are creating. Open one, or create yours anyway.",
        "Ces fiches ressemblent à celle que vous créez. Ouvrez-en une, ou créez la vôtre quand même.",
    ),
    ("dup.same_email", "same email", "même email"),
    ("dup.same_phone", "same phone", "même téléphone"),
    ("dup.same_company_id", "same company ID", "même identifiant"),
    ("dup.same_name", "same name", "même nom"),
    ("dup.same_domain", "same web domain", "même domaine web"),
    ("home.title", "News feed", "Fil d'actualité"),
    ("home.welcome", "Welcome", "Bienvenue"),
    (
        "home.empty",
        "No news yet. Activity across the company will show here.",
        "Pas encore d'actualité. L'activité de l'entreprise s'affichera ici.",
    ),
    ("home.all", "All events", "Tous les événements"),
    ("feed.created", "created", "a créé"),
    ("feed.updated", "updated", "a modifié"),
    ("feed.status_changed", "changed the status", "a changé le statut"),
    ("feed.comment", "commented", "a commenté"),
    ("feed.attachment", "attached a file", "a joint un fichier"),
    ("feed.linked", "linked a contact", "a lié un contact"),
    ("kind.created", "Created", "Création"),
    ("kind.status_changed", "Status changes", "Changements de statut"),
    ("kind.comment", "Comments", "Commentaires"),
    ("kind.attachment", "Attachments", "Pièces jointes"),
    ("kind.updated", "Updates", "Modifications"),
    ("kind.linked", "Links", "Liens"),
    ("search.title", "Search", "Recherche"),
    (
        "search.placeholder",
        "Search names, emails, phones, IDs, tags…",
        "Rechercher noms, emails, téléphones, identifiants, étiquettes…",
    ),
    ("search.none", "Nothing found.", "Aucun résultat."),
    ("list.filters", "Filters", "Filtres"),
    ("list.any", "Any", "Tous"),
    ("list.sort", "Sort by", "Trier par"),
    ("list.views", "Saved views", "Vues enregistrées"),
    ("list.view_name", "View name", "Nom de la vue"),
    ("list.shared", "Shared with everyone", "Partagée avec tous"),
    ("list.name_starts", "Name starts with", "Le nom commence par"),
    ("list.created_from", "Created from", "Créé depuis le"),
    ("list.created_to", "Created until", "Créé jusqu'au"),
    ("list.no_owner", "No owner", "Sans responsable"),
    ("list.results", "results", "résultats"),
    ("sort.name", "Name", "Nom"),
    ("sort.created_desc", "Newest first", "Plus récents d'abord"),
    ("sort.updated_desc", "Recently updated", "Modifiés récemment"),
    ("settings.title", "Settings", "Paramètres"),
    ("settings.statuses", "Account statuses", "Statuts des comptes"),
    ("settings.tags", "Tag categories", "Catégories d'étiquettes"),
    ("settings.fields", "Custom fields", "Champs personnalisés"),
    ("settings.rules", "Mandatory fields", "Champs obligatoires"),
    ("settings.roles", "Contact roles", "Rôles des contacts"),
    ("settings.users", "Users", "Utilisateurs"),
    ("settings.new_tag", "New tag", "Nouvelle étiquette"),
    ("settings.new_category", "New category", "Nouvelle catégorie"),
    ("settings.default_status", "default", "par défaut"),
    ("settings.password_hint", "At least 10 characters", "Au moins 10 caractères"),
    ("settings.api_keys", "API keys", "Clés d'API"),
    (
        "settings.new_key",
        "Your new API key (shown once):",
        "Votre nouvelle clé d'API (affichée une seule fois) :",
    ),
    ("settings.saved", "Saved.", "Enregistré."),
    ("role.admin", "Administrator", "Administrateur"),
    ("role.manager", "Sales manager", "Responsable commercial"),
    ("role.sales", "Sales rep", "Commercial"),
    ("role.marketing", "Marketer", "Marketing"),
    ("error.title", "Something went wrong", "Une erreur est survenue"),
    (
        "error.form",
        "Please correct the highlighted fields.",
        "Veuillez corriger les champs signalés.",
    ),
    (
        "form.conflict",
        "Someone else saved this record after you opened the form: what you typed is kept below. Check the record, then save again to replace their change.",
        "Quelqu'un d'autre a enregistré cette fiche après l'ouverture du formulaire : votre saisie est conservée ci-dessous. Vérifiez la fiche, puis enregistrez de nouveau pour remplacer sa modification.",
    ),
    (
        "error.not_found",
        "This page does not exist or was deleted.",
        "Cette page n'existe pas ou a été supprimée.",
    ),
    ("error.forbidden", "Your role does not allow this.", "Votre rôle ne le permet pas."),
    (
        "error.csrf",
        "This form has expired. Reload the page and try again.",
        "Ce formulaire a expiré. Rechargez la page et réessayez.",
    ),
    ("nav.pipeline", "Pipeline", "Pipeline"),
    ("nav.opportunities", "Opportunities", "Opportunités"),
    ("nav.forecast", "Forecast", "Prévisions"),
    ("opportunities.title", "Opportunities", "Opportunités"),
    ("opportunities.new", "New opportunity", "Nouvelle opportunité"),
    (
        "opportunities.empty",
        "No opportunity matches these filters.",
        "Aucune opportunité ne correspond à ces filtres.",
    ),
    ("opportunities.none", "No opportunity yet.", "Aucune opportunité."),
    ("opp.pipeline", "Pipeline", "Pipeline"),
    ("opp.stage", "Stage", "Étape"),
    ("opp.status", "Status", "Statut"),
    ("opp.status_open", "Open", "En cours"),
    ("opp.status_won", "Won", "Gagnée"),
    ("opp.status_lost", "Lost", "Perdue"),
    ("opp.amount", "Amount", "Montant"),
    ("opp.currency", "Currency", "Devise"),
    ("opp.weighted", "Weighted", "Pondéré"),
    ("opp.margin", "Margin", "Marge"),
    ("opp.offer", "Offer", "Offre"),
    ("opp.segment", "Segment", "Segment"),
    ("opp.contact", "Contact", "Contact"),
    ("opp.expected_close", "Expected close", "Signature prévue"),
    ("opp.lost_reason", "Lost reason", "Motif de perte"),
    ("opp.days_in_stage", "Days in stage", "Jours dans l'étape"),
    ("opp.closed_at", "Closed", "Clôturée le"),
    ("opp.stalled", "Stalled", "Bloquée"),
    ("opp.move", "Move to another stage", "Changer d'étape"),
    ("opp.next_action", "Next action", "Prochaine action"),
    ("agenda.actions", "Actions", "Actions"),
    ("nav.agenda", "Agenda", "Agenda"),
    ("book.title", "Book a meeting", "Prendre rendez-vous"),
    ("book.settings", "My booking page", "Ma page de prise de rendez-vous"),
    ("book.buffer_before", "Buffer before (min)", "Marge avant (min)"),
    ("book.buffer_after", "Buffer after (min)", "Marge après (min)"),
    ("book.notice", "Minimum notice (min)", "Délai minimum (min)"),
    ("book.horizon", "Bookable up to (days)", "Réservable jusqu'à (jours)"),
    ("book.hours", "Working hours", "Heures de travail"),
    ("day.monday", "Monday", "Lundi"),
    ("day.tuesday", "Tuesday", "Mardi"),
    ("day.wednesday", "Wednesday", "Mercredi"),
    ("day.thursday", "Thursday", "Jeudi"),
    ("day.friday", "Friday", "Vendredi"),
    ("day.saturday", "Saturday", "Samedi"),
    ("day.sunday", "Sunday", "Dimanche"),
    ("book.with", "Meeting with", "Rendez-vous avec"),
    ("book.times_in", "times in", "heures de"),
    ("book.choose", "Choose a time", "Choisissez un créneau"),
    (
        "book.none",
        "No free time in the coming days.",
        "Aucun créneau libre dans les prochains jours.",
    ),
    ("book.pick_slot", "choose a time", "choisissez un créneau"),
    ("book.company", "Company", "Société"),
    ("book.submit", "Book", "Réserver"),
    (
        "book.taken",
        "Someone just booked this time. Please choose another.",
        "Ce créneau vient d'être réservé. Merci d'en choisir un autre.",
    ),
    (
        "book.refused",
        "Your booking could not be recorded.",
        "Votre réservation n'a pas pu être enregistrée.",
    ),
    (
        "book.too_many",
        "Too many bookings from your network. Try again later.",
        "Trop de réservations depuis votre réseau. Réessayez plus tard.",
    ),
    ("book.confirmed", "Your meeting is booked", "Votre rendez-vous est réservé"),
    (
        "book.keep_link",
        "Keep this link to cancel or change it.",
        "Gardez ce lien pour l'annuler ou le modifier.",
    ),
    ("book.manage", "Manage my booking", "Gérer ma réservation"),
    ("book.cancel", "Cancel the meeting", "Annuler le rendez-vous"),
    ("book.cancelled", "This meeting is cancelled", "Ce rendez-vous est annulé"),
    ("calendar.title", "Calendar subscription", "Abonnement calendrier"),
    (
        "calendar.intro",
        "Subscribe to your Carnet actions from Google Calendar, Outlook or Thunderbird with a private link.",
        "Abonnez Google Agenda, Outlook ou Thunderbird à vos actions Carnet grâce à un lien privé.",
    ),
    (
        "calendar.new",
        "Your private calendar link (shown once; a new link replaces it):",
        "Votre lien privé (affiché une seule fois ; un nouveau lien le remplace) :",
    ),
    ("calendar.create", "Create a new link", "Créer un nouveau lien"),
    ("calendar.revoke", "Revoke the link", "Révoquer le lien"),
    ("agenda.task", "Task", "Tâche"),
    ("agenda.prev", "Previous", "Précédent"),
    ("agenda.next", "Next", "Suivant"),
    ("agenda.diaries", "Diaries", "Agendas"),
    ("agenda.mark_done", "Done", "Fait"),
    ("agenda.overdue", "Overdue", "En retard"),
    ("agenda.no_overdue", "Nothing overdue.", "Rien en retard."),
    ("agenda.plan", "Plan an action", "Planifier une action"),
    ("agenda.subject", "Subject", "Objet"),
    ("agenda.assignee", "For", "Pour"),
    ("agenda.starts_at", "Starts (appointments)", "Début (rendez-vous)"),
    ("agenda.starts_hint", "In your time zone", "Dans votre fuseau horaire"),
    ("agenda.duration", "Duration (minutes)", "Durée (minutes)"),
    ("agenda.due_date", "Due (tasks)", "Échéance (tâches)"),
    ("agenda.kind_task", "task", "tâche"),
    ("agenda.kind_appointment", "appointment", "rendez-vous"),
    ("agenda.none", "No action planned.", "Aucune action prévue."),
    ("agenda.outcome_done", "Done", "Faite"),
    ("agenda.outcome_no_show", "No-show", "Absent"),
    ("agenda.outcome_cancelled", "Cancelled", "Annulée"),
    ("agenda.outcome_rescheduled", "Rescheduled", "Reportée"),
    ("settings.jobs", "Background jobs", "Tâches de fond"),
    ("settings.analysis", "Analysis", "Analyse"),
    ("analysis.zone", "Reporting time zone", "Fuseau horaire des indicateurs"),
    (
        "analysis.zone_help",
        "Where the company's days begin and end in every figure. Changing it recomputes the figures; the history already recorded keeps its days.",
        "Où commencent et finissent les journées de l'entreprise dans tous les indicateurs. Le changer recalcule les indicateurs ; l'historique déjà enregistré garde ses journées.",
    ),
    ("settings.agenda", "Agenda", "Agenda"),
    ("nav.dashboards", "Dashboards", "Tableaux de bord"),
    ("field.hourly_cost", "Hourly cost", "Coût horaire"),
    ("analysis.from", "From", "Du"),
    ("analysis.to", "To", "Au"),
    ("analysis.custom", "Show these dates", "Afficher ces dates"),
    ("period.today", "Today", "Aujourd'hui"),
    ("period.this_week", "This week", "Cette semaine"),
    ("period.last_week", "Last week", "Semaine dernière"),
    ("period.this_month", "This month", "Ce mois-ci"),
    ("period.last_month", "Last month", "Mois dernier"),
    ("period.this_quarter", "This quarter", "Ce trimestre"),
    ("period.last_quarter", "Last quarter", "Trimestre dernier"),
    ("period.this_year", "This year", "Cette année"),
    ("period.last_year", "Last year", "Année dernière"),
    ("period.last_30_days", "Last 30 days", "30 derniers jours"),
    ("period.last_12_months", "Last 12 months", "12 derniers mois"),
    ("analysis.figures", "Flash figures", "Chiffres clés"),
    ("analysis.period", "Period", "Période"),
    ("analysis.whose", "Whose figures", "Chiffres de"),
    ("analysis.team", "The whole team", "Toute l'équipe"),
    ("analysis.vs_previous", "vs previous period", "vs période précédente"),
    ("analysis.vs_last_year", "vs last year", "vs l'an dernier"),
    ("analysis.choose", "Choose my figures", "Choisir mes chiffres"),
    ("analysis.no_dashboards", "No dashboard yet.", "Aucun tableau de bord."),
    ("analysis.shared", "shared", "partagé"),
    ("analysis.mine", "mine", "le mien"),
    ("analysis.new_dashboard", "New dashboard", "Nouveau tableau de bord"),
    ("analysis.share", "Shared with everyone", "Partagé avec tous"),
    ("analysis.no_widgets", "No widget yet: add one below.", "Aucun graphique : ajoutez-en un ci-dessous."),
    ("analysis.move_up", "Move up", "Monter"),
    ("analysis.move_down", "Move down", "Descendre"),
    ("analysis.widget_error", "This widget cannot be computed", "Ce graphique ne peut pas être calculé"),
    ("analysis.table", "The numbers", "Les chiffres"),
    ("analysis.value", "Value", "Valeur"),
    ("analysis.change", "Change", "Évolution"),
    ("analysis.add_widget", "Add a widget", "Ajouter un graphique"),
    ("analysis.title", "Title", "Titre"),
    ("analysis.metric", "Metric", "Indicateur"),
    ("analysis.chart", "Chart", "Graphique"),
    ("analysis.breakdown", "Broken down by", "Ventilé par"),
    ("analysis.compare", "Compared with", "Comparé à"),
    ("analysis.previous", "The previous period", "La période précédente"),
    ("analysis.filters", "Filters", "Filtres"),
    ("analysis.last_year", "The same period last year", "La même période l'an dernier"),
    ("analysis.rename", "Name and sharing", "Nom et partage"),
    ("analysis.delete_board", "Delete this dashboard", "Supprimer ce tableau de bord"),
    ("analysis.compared_to", "compared with", "comparé à"),
    ("analysis.other_length", "a period of another length", "une période d'une autre durée"),
    ("analysis.total", "Total", "Total"),
    ("chart.number", "Single number", "Chiffre seul"),
    ("chart.pie", "Pie", "Camembert"),
    ("chart.line", "Curve over time", "Courbe"),
    ("chart.bar", "Bars", "Barres"),
    ("chart.table", "Table", "Tableau"),
    ("chart.funnel", "Funnel", "Entonnoir"),
    ("breakdown.owner", "Rep", "Commercial"),
    ("breakdown.status", "Account status", "Statut du compte"),
    ("breakdown.segment", "Segment", "Segment"),
    ("breakdown.source", "Source", "Origine"),
    ("breakdown.source_kind", "Source kind", "Type d'origine"),
    ("breakdown.pipeline", "Pipeline", "Pipeline"),
    ("breakdown.stage", "Stage", "Étape"),
    ("breakdown.offer", "Offer", "Offre"),
    ("breakdown.template", "Email template", "Modèle d'e-mail"),
    ("breakdown.action_type", "Action type", "Type d'action"),
    ("breakdown.day", "Day", "Jour"),
    ("breakdown.week", "Week", "Semaine"),
    ("breakdown.month", "Month", "Mois"),
    ("breakdown.tags", "Tags", "Étiquettes"),
    ("breakdown.field", "Field", "Champ"),
    ("book.teams", "Team booking pages", "Pages de réservation d'équipe"),
    ("book.no_teams", "No team page yet.", "Aucune page d'équipe."),
    ("book.slug", "Address (/book/…)", "Adresse (/book/…)"),
    ("book.strategy", "Who gets a booking", "Attribution"),
    ("book.strategy_round_robin", "In turn (round robin)", "À tour de rôle"),
    ("book.strategy_least_busy", "The least busy", "Le moins chargé"),
    ("book.members", "Members", "Membres"),
    ("book.reschedule", "Or choose another time", "Ou choisissez un autre horaire"),
    ("book.move", "Move my appointment", "Déplacer mon rendez-vous"),
    ("month.1", "January", "janvier"),
    ("month.2", "February", "février"),
    ("month.3", "March", "mars"),
    ("month.4", "April", "avril"),
    ("month.5", "May", "mai"),
    ("month.6", "June", "juin"),
    ("month.7", "July", "juillet"),
    ("month.8", "August", "août"),
    ("month.9", "September", "septembre"),
    ("month.10", "October", "octobre"),
    ("month.11", "November", "novembre"),
    ("month.12", "December", "décembre"),
    ("field.notes", "Notes", "Notes"),
    ("field.contact", "Contact", "Contact"),
    ("field.opportunity", "Opportunity", "Opportunité"),
    ("agenda.remind", "Reminder", "Rappel"),
    ("agenda.remind_none", "No reminder", "Pas de rappel"),
    ("agenda.remind_0", "At the time", "À l'heure"),
    ("agenda.remind_10", "10 minutes before", "10 minutes avant"),
    ("agenda.remind_30", "30 minutes before", "30 minutes avant"),
    ("agenda.remind_60", "1 hour before", "1 heure avant"),
    ("agenda.remind_1440", "1 day before", "1 jour avant"),
    ("agenda.reminders", "Reminders", "Rappels"),
    ("agenda.no_reminders", "No reminder due.", "Aucun rappel en attente."),
    ("agenda.dismiss", "Seen", "Vu"),
    ("agenda.view_day", "Day", "Jour"),
    ("agenda.view_week", "Week", "Semaine"),
    ("agenda.view_month", "Month", "Mois"),
    ("agenda.today", "Today", "Aujourd'hui"),
    ("agenda.tasks", "Tasks", "Tâches"),
    ("agenda.edit", "Edit", "Modifier"),
    ("agenda.drag_hint", "Drag an item to move it, or its lower edge to change its length; or open it to change its time with the keyboard.", "Faites glisser un élément pour le déplacer, ou son bord inférieur pour changer sa durée ; ou ouvrez-le pour changer son horaire au clavier."),
    ("agenda.download_ics", "Download (.ics)", "Télécharger (.ics)"),
    ("agenda.types", "Action types", "Types d'actions"),
    ("agenda.icon", "Icon", "Icône"),
    ("agenda.followups", "Follow-up rules", "Règles de relance"),
    ("agenda.recurring", "Recurring actions", "Actions récurrentes"),
    ("rules.none", "No rule yet.", "Aucune règle."),
    ("rules.when_done", "When done", "Quand est faite l'action"),
    ("rules.for_segment", "for the segment", "pour le segment"),
    ("rules.then_plan", "plan", "planifier"),
    ("rules.due_in", "due in", "à échéance de"),
    ("rules.business_days", "working days", "jours ouvrés"),
    ("rules.days", "days", "jours"),
    ("rules.paused", "paused", "en pause"),
    ("rules.pause", "Pause", "Suspendre"),
    ("rules.resume", "Resume", "Reprendre"),
    ("rules.or_view", "or saved view of accounts", "ou vue enregistrée de comptes"),
    ("rules.every_months", "Every (months)", "Tous les (mois)"),
    ("rules.horizon", "Planned ahead (months)", "Planifié à l'avance (mois)"),
    ("rules.start_time", "At (appointments)", "À (rendez-vous)"),
    ("rules.every", "every", "tous les"),
    ("rules.months", "months", "mois"),
    ("jobs.none", "No failed job.", "Aucune tâche en échec."),
    ("jobs.retry", "Retry", "Relancer"),
    ("opp.move_button", "Move", "Déplacer"),
    ("opp.history", "Stage history", "Historique des étapes"),
    ("opp.open_count", "open", "en cours"),
    ("field.contacts", "Contacts", "Contacts"),
    ("field.amount", "Amount", "Montant"),
    ("field.margin", "Margin", "Marge"),
    ("field.offer", "Offer", "Offre"),
    ("field.expected_close", "Expected close", "Signature prévue"),
    ("board.total", "Open pipeline", "Pipeline ouvert"),
    ("board.days", "d in stage", "j dans l'étape"),
    ("board.more", "more", "de plus"),
    ("board.drop_here", "Drop here:", "Déposer ici :"),
    ("board.sort_amount", "Largest amount first", "Plus gros montant d'abord"),
    ("board.sort_close", "Closing soonest", "Signature la plus proche"),
    ("board.sort_age", "Longest in stage", "Plus longtemps dans l'étape"),
    ("forecast.from", "From month", "À partir du mois"),
    ("forecast.months", "Months", "Mois"),
    ("forecast.by", "By", "Par"),
    (
        "forecast.chart",
        "Pipeline by month of expected close",
        "Pipeline par mois de signature prévue",
    ),
    (
        "forecast.table",
        "Weighted pipeline (open amount below)",
        "Pipeline pondéré (montant ouvert dessous)",
    ),
    ("forecast.open", "Open", "Ouvert"),
    ("forecast.weighted", "Weighted", "Pondéré"),
    ("forecast.no_date", "No date", "Sans date"),
    ("forecast.total", "Total", "Total"),
    ("forecast.none", "Not set", "Non renseigné"),
    ("forecast.won", "Won in the period", "Gagné sur la période"),
    (
        "forecast.no_won",
        "Nothing won in this period yet.",
        "Rien de gagné sur cette période.",
    ),
    (
        "forecast.legend",
        "Weighted = amount × stage probability.",
        "Pondéré = montant × probabilité de l'étape.",
    ),
    ("orders.title", "Orders", "Commandes"),
    ("orders.empty", "No order yet.", "Aucune commande."),
    ("orders.lifetime", "Lifetime revenue", "Chiffre d'affaires cumulé"),
    ("orders.count", "orders", "commandes"),
    ("order.number", "Number", "Numéro"),
    ("order.date", "Date", "Date"),
    ("order.add", "Add order", "Ajouter la commande"),
    ("kind.opportunity", "Opportunities", "Opportunités"),
    ("kind.stage_changed", "Stage changes", "Changements d'étape"),
    ("feed.opportunity", "opportunity", "opportunité"),
    ("feed.action_planned", "planned", "a planifié"),
    ("feed.action_done", "closed", "a clôturé"),
    ("kind.action_planned", "Planned actions", "Actions planifiées"),
    ("kind.action_done", "Actions done", "Actions réalisées"),
    ("feed.stage_changed", "moved the opportunity", "a déplacé l'opportunité"),
    ("settings.pipelines", "Pipelines", "Pipelines"),
    ("settings.offers", "Offers", "Offres"),
    ("settings.sales_lists", "Sources and lost reasons", "Origines et motifs de perte"),
    ("yes", "Yes", "Oui"),
    ("no", "No", "Non"),
    ("none", "—", "—"),
    ("agenda.invite", "Email the contact a calendar invitation", "Envoyer au contact une invitation d'agenda"),
    ("users.invite", "Invite by email", "Inviter par e-mail"),
    ("users.invite_hint", "Or leave it empty and invite: the person chooses it from the email.", "Ou laissez-le vide et invitez : la personne le choisit depuis l'e-mail."),
    ("password.forgot", "Forgot your password?", "Mot de passe oublié ?"),
    ("password.forgot_title", "Choose a new password", "Choisir un nouveau mot de passe"),
    ("password.forgot_help", "Give your account's email address: we send you a link to choose a new password.", "Indiquez l'adresse e-mail de votre compte : nous vous envoyons un lien pour choisir un nouveau mot de passe."),
    ("password.send_link", "Send me the link", "M'envoyer le lien"),
    ("password.sent", "If an account exists for this address, the link is on its way. It works once, for an hour.", "Si un compte existe pour cette adresse, le lien est en route. Il fonctionne une fois, pendant une heure."),
    ("password.new", "New password", "Nouveau mot de passe"),
    ("password.confirm", "The same again", "Le même, à nouveau"),
    ("password.save", "Save my password", "Enregistrer mon mot de passe"),
    ("password.invalid", "This link has expired or was already used. Ask for a new one.", "Ce lien a expiré ou a déjà servi. Demandez-en un nouveau."),
    ("password.done", "Your password is saved: sign in with it.", "Votre mot de passe est enregistré : connectez-vous avec."),
    ("feed.email", "sent an email", "a envoyé un e-mail"),
    ("feed.unsubscribed", "unsubscribed from marketing emails", "s'est désinscrit des e-mails marketing"),
    ("email.to", "to", "à"),
    ("email.status_queued", "waiting to be sent", "en attente d'envoi"),
    ("email.status_sending", "being sent", "en cours d'envoi"),
    ("email.status_sent", "sent", "envoyé"),
    ("email.status_failed", "not delivered", "non remis"),
    ("email.status_suppressed", "not sent: the address is on the suppression list", "non envoyé : l'adresse est sur la liste d'exclusion"),
    ("email.status_unknown", "delivery unknown", "remise inconnue"),
    ("email.opened", "opened", "ouvert"),
    ("email.once", "once", "une fois"),
    ("email.times", "times", "fois"),
    ("email.clicked", "clicked", "a cliqué sur"),
    ("email.not_opened", "not opened yet", "pas encore ouvert"),
    ("card.write_email", "Write an email", "Écrire un e-mail"),
    ("email.template", "Start from a template", "Partir d'un modèle"),
    ("email.no_template", "— none —", "— aucun —"),
    ("email.subject", "Subject", "Objet"),
    ("email.body", "Message", "Message"),
    ("email.body_help", "Left empty with a template chosen, the template's text is sent.", "Laissé vide avec un modèle choisi, le texte du modèle est envoyé."),
    ("email.send", "Send", "Envoyer"),
    ("email.no_tracking", "Do not track opens and clicks", "Ne pas suivre les ouvertures et les clics"),
    ("email.sent_notice", "Your email is in the outbox: it appears on the timeline.", "Votre e-mail est dans la boîte d'envoi : il apparaît dans l'historique."),
    ("settings.email", "Email", "E-mail"),
    ("email.relay", "SMTP relay", "Relais SMTP"),
    ("email.no_relay", "No relay is configured: set CARNET_SMTP_URL (or --smtp-url) and restart. Messages wait in the outbox until then.", "Aucun relais n'est configuré : renseignez CARNET_SMTP_URL (ou --smtp-url) puis redémarrez. Les messages attendent dans la boîte d'envoi."),
    ("email.sender", "Sender", "Expéditeur"),
    ("email.sender_name", "Sender name", "Nom de l'expéditeur"),
    ("email.sender_address", "Sender address", "Adresse de l'expéditeur"),
    ("email.tracking", "Track opens and clicks", "Suivre les ouvertures et les clics"),
    ("email.per_minute", "Messages per minute (per node, 0: no limit)", "Messages par minute (par nœud, 0 : sans limite)"),
    ("email.test", "Send me a test email", "M'envoyer un e-mail de test"),
    ("email.test_queued", "A test email is on its way to your address.", "Un e-mail de test part vers votre adresse."),
    ("email.last_error", "Last failure", "Dernier échec"),
    ("email.outbox", "Outbox", "Boîte d'envoi"),
    ("email.unknown", "Delivery unknown: to decide", "Remise inconnue : à décider"),
    ("email.unknown_help", "Carnet stopped while these messages were being handed to the relay. They are never sent again by themselves: check the relay's log, then say whether each was delivered.", "Carnet s'est arrêté pendant la remise de ces messages au relais. Ils ne sont jamais renvoyés d'eux-mêmes : vérifiez le journal du relais, puis indiquez si chacun a été remis."),
    ("email.mark_sent", "It was delivered", "Il a été remis"),
    ("email.send_again", "Send again", "Renvoyer"),
    ("email.failed", "Not delivered", "Non remis"),
    ("email.templates", "Templates", "Modèles"),
    ("email.template_name", "Name", "Nom"),
    ("email.html", "Body (HTML)", "Corps (HTML)"),
    ("email.fields_help", "Merge fields, e.g. {{ contact.first_name }}, {{ owner.name }}, {{ links.unsubscribe }}. A name that is not a merge field is refused when saving.", "Champs de fusion, par ex. {{ contact.first_name }}, {{ owner.name }}, {{ links.unsubscribe }}. Un nom qui n'est pas un champ de fusion est refusé à l'enregistrement."),
    ("email.preview", "Preview", "Aperçu"),
    ("email.new_template", "New template", "Nouveau modèle"),
    ("email.key", "Key", "Clé"),
    ("email.language", "Language", "Langue"),
    ("email.category", "Kind", "Type"),
    ("email.category_transactional", "transactional", "transactionnel"),
    ("email.category_marketing", "marketing", "marketing"),
    ("email.suppressions", "Suppression list", "Liste d'exclusion"),
    ("email.suppressions_help", "Marketing emails are not sent to these addresses; nothing is sent to a bounced one.", "Les e-mails marketing ne partent pas vers ces adresses ; rien ne part vers une adresse en échec définitif."),
    ("email.address", "Address", "Adresse"),
    ("email.reason", "Reason", "Motif"),
    ("email.reason_unsubscribed", "unsubscribed", "désinscrit"),
    ("email.reason_bounced", "bounced", "adresse en échec"),
    ("email.reason_complained", "complained", "plainte"),
    ("email.reason_manual", "added by hand", "ajoutée à la main"),
    ("email.remove", "Remove", "Retirer"),
    ("email.add", "Add", "Ajouter"),
    ("unsub.title", "Unsubscribe", "Se désinscrire"),
    ("unsub.confirm", "Marketing emails will no longer be sent to", "Les e-mails marketing ne seront plus envoyés à"),
    ("unsub.keep", "Emails you asked for yourself (appointment confirmations, replies from your contact) still arrive.", "Les e-mails que vous avez demandés (confirmations de rendez-vous, réponses de votre interlocuteur) arrivent toujours."),
    ("unsub.button", "Unsubscribe", "Me désinscrire"),
    ("unsub.stay", "Keep receiving them", "Continuer à les recevoir"),
    ("unsub.done", "You are unsubscribed: no more marketing emails will be sent to", "Vous êtes désinscrit : plus aucun e-mail marketing ne sera envoyé à"),
    ("unsub.kept", "Nothing changed: you still receive our emails.", "Rien n'a changé : vous recevez toujours nos e-mails."),    ("form.err_required", "This field is required.", "Ce champ est obligatoire."),
    ("form.err_consent", "Please tick this box to send the form.", "Cochez cette case pour envoyer le formulaire."),
    ("form.err_choice", "Choose one of the answers offered.", "Choisissez une des réponses proposées."),
    ("form.err_one", "Choose only one answer.", "Choisissez une seule réponse."),
    ("form.err_email", "This is not a valid email address.", "Ce n'est pas une adresse e-mail valide."),
    ("form.err_phone", "This is not a valid phone number.", "Ce n'est pas un numéro de téléphone valide."),
    ("form.err_origin", "This site may not send this form.", "Ce site ne peut pas envoyer ce formulaire."),
    ("form.company", "Company", "Société"),
    ("form.mandatory", "mandatory", "obligatoire"),
    ("form.send", "Send", "Envoyer"),
    ("form.fix", "Some answers need a change: see the messages below.", "Certaines réponses sont à corriger : voir les messages ci-dessous."),
    ("form.expired", "This page was open for too long: please check your answers and send again.", "Cette page est restée ouverte trop longtemps : vérifiez vos réponses et envoyez à nouveau."),
    ("form.too_many", "Too many sends in a short time: please try again later.", "Trop d'envois en peu de temps : réessayez plus tard."),
    ("form.your_score", "Your score:", "Votre score :"),
    ("form.check_inbox", "We have sent you an email: follow its link to confirm your address.", "Nous vous avons envoyé un e-mail : suivez son lien pour confirmer votre adresse."),
    ("form.confirm_title", "Confirm your address", "Confirmer votre adresse"),
    ("form.confirm_ask", "Confirm that this address is yours and that you agree to hear from us.", "Confirmez que cette adresse est la vôtre et que vous acceptez d'être contacté."),
    ("form.confirm_button", "Confirm", "Confirmer"),
    ("form.confirm_done", "Thank you: your address is confirmed.", "Merci : votre adresse est confirmée."),
    ("form.confirm_already", "Your address was already confirmed.", "Votre adresse était déjà confirmée."),
    ("form.score", "score", "score"),
    ("form.consent_given", "consent given", "consentement donné"),
    ("form.kept", "kept", "conservé"),
    ("form.given", "the form said", "le formulaire indiquait"),
    ("feed.form_submitted", "filled in", "a rempli"),
    ("feed.form_conflict", "answers that differ from the record", "réponses différentes de la fiche"),
    ("feed.opt_in_confirmed", "confirmed their address (double opt-in)", "a confirmé son adresse (double opt-in)"),
    ("nav.marketing", "Marketing", "Marketing"),
    ("mk.campaigns", "Campaigns", "Campagnes"),
    ("mk.campaign", "Campaign", "Campagne"),
    ("mk.forms", "Forms", "Formulaires"),
    ("mk.active", "Published (the page answers)", "Publié (la page répond)"),
    ("mk.inactive", "not published", "non publié"),
    ("mk.add_cost", "Add the cost", "Ajouter la dépense"),
    ("mk.address", "Address", "Adresse"),
    ("mk.amount", "Amount", "Montant"),
    ("mk.archived", "Archived", "Archivée"),
    ("mk.asked", "Asked", "Demandé"),
    ("mk.bands", "Result bands", "Tranches de résultat"),
    ("mk.bands_help", "One band per line: minimum points | name | text shown to the respondent.", "Une tranche par ligne : points minimum | nom | texte montré au répondant."),
    ("mk.channel", "Channel", "Canal"),
    ("mk.channel_emailing", "E-mailing", "E-mailing"),
    ("mk.channel_linkedin_ads", "LinkedIn Ads", "LinkedIn Ads"),
    ("mk.channel_trade_show", "Trade show", "Salon"),
    ("mk.channel_conference", "Conference", "Conférence"),
    ("mk.channel_webinar", "Webinar", "Webinaire"),
    ("mk.channel_blog", "Blog", "Blog"),
    ("mk.channel_other", "Other", "Autre"),
    ("mk.consent", "Consent (GDPR)", "Consentement (RGPD)"),
    ("mk.consent_text", "Consent text", "Texte du consentement"),
    ("mk.consent_help", "Shown beside a checkbox. A changed text becomes a new version; each contact's consent keeps the version they saw.", "Affiché à côté d'une case à cocher. Un texte modifié devient une nouvelle version ; le consentement de chaque contact garde la version qu'il a vue."),
    ("mk.consent_required", "The box must be ticked to send the form", "La case doit être cochée pour envoyer le formulaire"),
    ("mk.double_opt_in", "Double opt-in: email a confirmation link; the consent counts once it is followed", "Double opt-in : envoyer un lien de confirmation par e-mail ; le consentement compte une fois le lien suivi"),
    ("mk.cost_per_customer", "Cost per customer", "Coût par client"),
    ("mk.cost_per_lead", "Cost per lead", "Coût par lead"),
    ("mk.costs", "Costs", "Dépenses"),
    ("mk.dates", "Dates", "Dates"),
    ("mk.day", "Date", "Date"),
    ("mk.embed", "Embed on your site", "Intégrer à votre site"),
    ("mk.embed_help", "Paste this where the form should appear. Your site's address must be among the allowed sites below.", "Collez ceci là où le formulaire doit apparaître. L'adresse de votre site doit figurer parmi les sites autorisés ci-dessous."),
    ("mk.ends_on", "Ends on", "Fin"),
    ("mk.field", "Field", "Champ"),
    ("mk.fields", "Fields", "Champs"),
    ("mk.hosted", "Hosted page:", "Page hébergée :"),
    ("mk.intro", "Introduction", "Introduction"),
    ("mk.label", "Label", "Libellé"),
    ("mk.leads", "Leads", "Leads"),
    ("mk.mandatory", "Mandatory", "Obligatoire"),
    ("mk.optional", "Optional", "Facultatif"),
    ("mk.not_asked", "Not asked", "Non demandé"),
    ("mk.new_campaign", "New campaign", "Nouvelle campagne"),
    ("mk.new_form", "New form", "Nouveau formulaire"),
    ("mk.no_campaigns", "No campaign yet.", "Aucune campagne pour l'instant."),
    ("mk.no_costs", "No cost recorded.", "Aucune dépense enregistrée."),
    ("mk.no_forms", "No form yet.", "Aucun formulaire pour l'instant."),
    ("mk.opportunities", "Opportunities", "Opportunités"),
    ("mk.origins", "Sites allowed to embed it", "Sites autorisés à l'intégrer"),
    ("mk.allowed_origins", "Sites allowed to embed it", "Sites autorisés à l'intégrer"),
    ("mk.page", "Page", "Page"),
    ("mk.publish", "Where it lives", "Où le trouver"),
    ("mk.questionnaire", "Questionnaire", "Questionnaire"),
    ("mk.questions", "Questions", "Questions"),
    ("mk.questions_help", "A question per line, its answers below it as “- answer = points”. Add [multiple] for several answers, [required] for a mandatory question.", "Une question par ligne, ses réponses dessous sous la forme « - réponse = points ». Ajoutez [multiple] pour plusieurs réponses, [required] pour une question obligatoire."),
    ("mk.redirect", "Redirect after sending (instead of the message)", "Redirection après envoi (au lieu du message)"),
    ("mk.redirect_url", "Redirect", "Redirection"),
    ("mk.results", "Results", "Résultats"),
    ("mk.results_email", "Email the respondents their results", "Envoyer aux répondants leurs résultats par e-mail"),
    ("mk.segment", "Target segment", "Segment visé"),
    ("mk.shown_as", "Shown as", "Libellé affiché"),
    ("mk.slug", "Address (/f/…)", "Adresse (/f/…)"),
    ("mk.starts_on", "Starts on", "Début"),
    ("mk.submissions", "Submissions", "Envois"),
    ("mk.submissions_lower", "submissions", "envois"),
    ("mk.thank_you", "Thank-you message", "Message de remerciement"),
    ("mk.title", "Title on the page", "Titre de la page"),
    ("mk.touched", "Contacts reached", "Contacts touchés"),
    ("mk.won", "Won amount", "Montant gagné"),
    ("mk.won_deals", "Deals won", "Affaires gagnées"),
    ("mk.name", "Name", "Nom"),
    ("mk.description", "Description", "Description"),
    ("mk.currency", "Currency", "Devise"),
    ("mk.locale", "Language", "Langue"),
    ("mk.spec.fields", "Fields", "Champs"),
    ("card.consents", "Consents", "Consentements"),
    ("card.consent_confirmed", "confirmed", "confirmé le"),
    ("card.consent_pending", "waiting for the address to be confirmed", "en attente de confirmation de l'adresse"),
    ("card.no_consents", "No consent recorded.", "Aucun consentement enregistré."),
    ("card.no_campaigns", "Came through no campaign.", "Venu par aucune campagne."),
    ("card.via_form", "by a form", "par un formulaire"),
    ("card.via_link", "by a tracked link", "par un lien suivi"),
    ("card.via_manual", "added by hand", "ajouté à la main"),
    ("form.download", "Download the file", "Télécharger le fichier"),
    ("form.download_help", "We have emailed you the link too; it works for seven days.", "Nous vous avons aussi envoyé le lien par e-mail ; il fonctionne sept jours."),
    ("form.file_expired", "This download link has expired", "Ce lien de téléchargement a expiré"),
    ("form.file_expired_help", "Download links work for seven days. Fill in the form again to receive a new one.", "Les liens de téléchargement fonctionnent sept jours. Remplissez à nouveau le formulaire pour en recevoir un nouveau."),
    ("form.fill_again", "Back to the form", "Retour au formulaire"),
    ("feed.file_downloaded", "downloaded", "a téléchargé"),
    ("mk.file", "File delivered (lead magnet)", "Fichier offert (contenu)"),
    ("mk.no_file", "No file: the form delivers nothing.", "Aucun fichier : le formulaire ne délivre rien."),
    ("mk.file_help", "An e-book, slides…: after sending the form, the visitor gets a download link (on the page and by email; after confirming their address with double opt-in).", "Un livre blanc, des slides… : après l'envoi du formulaire, le visiteur reçoit un lien de téléchargement (sur la page et par e-mail ; après confirmation de son adresse en double opt-in)."),
    ("mk.upload", "Upload", "Téléverser"),
    ("feed.score_changed", "score", "score"),
    ("feed.score_expired", "points expired", "points expirés"),
    ("feed.lead_handed_over", "handed to a rep:", "confié à un commercial :"),
    ("mk.scoring", "Lead scoring", "Scoring des leads"),
    ("mk.rules", "Rules", "Règles"),
    ("mk.rules_help", "What earns points. A changed rule re-scores every contact in the background.", "Ce qui rapporte des points. Une règle modifiée recalcule le score de chaque contact en arrière-plan."),
    ("mk.no_rules", "No rule: nobody earns points.", "Aucune règle : personne ne gagne de points."),
    ("mk.trigger", "When", "Quand"),
    ("mk.trigger_email_open", "A person opens an email", "Une personne ouvre un e-mail"),
    ("mk.trigger_email_click", "A person clicks a link of an email", "Une personne clique un lien d'un e-mail"),
    ("mk.trigger_form_submitted", "A form is sent", "Un formulaire est envoyé"),
    ("mk.trigger_file_downloaded", "A file is downloaded", "Un fichier est téléchargé"),
    ("mk.trigger_questionnaire_band", "A questionnaire ends in a band", "Un questionnaire aboutit à une tranche"),
    ("mk.target", "Which one", "Lequel"),
    ("mk.any", "Any", "N'importe lequel"),
    ("mk.form", "Form", "Formulaire"),
    ("mk.band", "Band", "Tranche"),
    ("mk.points", "Points", "Points"),
    ("mk.decay", "Expire after", "Expirent après"),
    ("mk.decay_days", "Points expire after (days)", "Les points expirent après (jours)"),
    ("mk.days", "days", "jours"),
    ("mk.thresholds", "Hand-off thresholds", "Seuils de transmission"),
    ("mk.thresholds_help", "At this score a lead goes to a rep (in turn, when nobody owns it) with a call task for today, the account's status set, and an email to the rep. Once per lead.", "À ce score, le lead est confié à un commercial (à tour de rôle s'il n'a pas de propriétaire) avec un appel à faire aujourd'hui, le statut du compte mis à jour et un e-mail au commercial. Une fois par lead."),
    ("mk.no_thresholds", "No threshold: leads stay in nurturing.", "Aucun seuil : les leads restent en maturation."),
    ("mk.reps", "Reps, in turn", "Commerciaux, à tour de rôle"),
    ("mk.status_set", "Account status set", "Statut du compte"),
    ("mk.notify", "Email the rep", "Prévenir le commercial par e-mail"),
    ("mk.trigger_kind", "When", "Quand"),
    ("mk.decay_days_err", "Expiry", "Expiration"),
    ("card.score", "Score", "Score"),
    ("card.no_score", "No points yet.", "Aucun point pour l'instant."),
    ("leads.title", "To call", "À appeler"),
    ("leads.help", "Qualified leads: they showed an interest and their email and phone are known. They leave the list once a call (or any action) on them is done.", "Leads qualifiés : ils ont montré un intérêt et leur e-mail et téléphone sont connus. Ils quittent la liste dès qu'un appel (ou toute action) les concernant est fait."),
    ("leads.none", "No lead to call.", "Aucun lead à appeler."),
    ("leads.why", "Interest", "Intérêt"),
    ("leads.since", "Qualified", "Qualifié le"),
    ("leads.why_score", "score reached", "score atteint"),
    ("leads.why_booking", "booked a meeting", "a pris rendez-vous"),
    ("leads.why_call_me", "asked to be called", "a demandé à être rappelé"),
    ("form.call_me", "Please call me", "Rappelez-moi"),
    ("feed.lead_qualified", "became a qualified lead", "est devenu un lead qualifié"),
    ("mk.qualified", "Qualified leads", "Leads qualifiés"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_per_locale() {
        let en = Fmt::new(Locale::En, chrono_tz::Europe::Paris);
        let fr = Fmt::new(Locale::Fr, chrono_tz::Europe::Paris);
        assert_eq!(en.number(1234567.891, 2), "1,234,567.89");
        assert_eq!(fr.number(1234567.891, 2), "1\u{202f}234\u{202f}567,89");
        assert_eq!(en.money(-123456, "EUR"), "-€1,234.56");
        assert_eq!(fr.money(123456, "EUR"), "1\u{202f}234,56\u{a0}€");
        let d = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(en.date(d), "Nov 27, 2026");
        assert_eq!(fr.date(d), "27 nov. 2026");
        // 2026-03-29 01:30 UTC is 03:30 in Paris (after the spring change).
        let t = Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap().timestamp();
        assert_eq!(fr.datetime(t), "29 mars 2026 03:30");
        assert_eq!(en.datetime(t), "Mar 29, 2026, 3:30 AM");
    }

    #[test]
    fn keys_unique_and_translated() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, fr) in STRINGS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!en.is_empty() && !fr.is_empty(), "{k}");
        }
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(parse_time_zone("America/New_York").is_ok());
    }
}
