//! The company's settings as the parsers see them: statuses, tag categories and
//! tags, custom fields, mandatory rules, users, contact roles ([`Catalog`]) and
//! the sales settings — pipelines and stages, offers, sources, lost reasons
//! ([`SalesCatalog`]). Records and sales drafts both read it; it reads neither.

use crate::fields::{Entity, FieldDef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StatusDef {
    pub id: i64,
    pub name: String,
    pub position: i64,
    pub color: String,
    pub is_default: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TagDef {
    pub id: i64,
    pub category_id: i64,
    pub name: String,
    pub color: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct CategoryDef {
    pub id: i64,
    pub name: String,
    pub multi: bool,
    pub is_segment: bool,
    pub tags: Vec<TagDef>,
}

/// "Field F is mandatory on entity E, always or from status S on."
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RuleDef {
    pub id: i64,
    pub entity: Entity,
    pub field: String,
    pub from_status_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserRef {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RoleDef {
    pub id: i64,
    pub name: String,
}

/// What a parser resolves names against: the company's settings.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Catalog {
    pub statuses: Vec<StatusDef>,
    pub categories: Vec<CategoryDef>,
    pub fields: Vec<FieldDef>,
    pub rules: Vec<RuleDef>,
    pub users: Vec<UserRef>,
    pub roles: Vec<RoleDef>,
    /// Pipelines, offers, sources, lost reasons: loaded for opportunity pages only.
    pub sales: SalesCatalog,
}

impl Catalog {
    pub fn status(&self, id: i64) -> Option<&StatusDef> {
        self.statuses.iter().find(|s| s.id == id)
    }
    pub fn tag(&self, id: i64) -> Option<(&CategoryDef, &TagDef)> {
        self.categories
            .iter()
            .find_map(|c| c.tags.iter().find(|t| t.id == id).map(|t| (c, t)))
    }
    pub fn fields_for(&self, e: Entity) -> impl Iterator<Item = &FieldDef> {
        self.fields.iter().filter(move |f| f.entity == e)
    }
    pub fn user(&self, id: i64) -> Option<&UserRef> {
        self.users.iter().find(|u| u.id == id)
    }
    pub fn role(&self, id: i64) -> Option<&RoleDef> {
        self.roles.iter().find(|r| r.id == id)
    }

    /// A status by id or by name (case-insensitive).
    /// The catalogue without the company's mandatory rules: for writes they do
    /// not bind — a visitor's own form, Carnet's own hand-offs, a manager's
    /// accepted segment change (a rep completes the record on their next edit).
    pub fn without_rules(&self) -> Catalog {
        let mut c = self.clone();
        c.rules.clear();
        c
    }

    pub fn resolve_status(&self, raw: &str) -> Result<i64, String> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>() {
            if self.status(id).is_some() {
                return Ok(id);
            }
        }
        self.statuses
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(raw))
            .map(|s| s.id)
            .ok_or_else(|| format!("“{raw}” is not a known status"))
    }

    /// A user by id or email.
    pub fn resolve_user(&self, raw: &str) -> Result<i64, String> {
        let raw = raw.trim();
        self.users
            .iter()
            .find(|u| u.id.to_string() == raw || u.email.eq_ignore_ascii_case(raw))
            .map(|u| u.id)
            .ok_or_else(|| format!("“{raw}” is not a known user"))
    }

    pub fn resolve_role(&self, raw: &str) -> Result<i64, String> {
        let raw = raw.trim();
        self.roles
            .iter()
            .find(|r| r.id.to_string() == raw || r.name.eq_ignore_ascii_case(raw))
            .map(|r| r.id)
            .ok_or_else(|| format!("“{raw}” is not a known contact role"))
    }

    /// A tag by id, by "Category/Name", or by a name unique across categories.
    /// A custom field by id or key.
    pub fn resolve_field(&self, raw: &str) -> Result<&FieldDef, String> {
        let raw = raw.trim();
        self.fields
            .iter()
            .find(|f| f.id.to_string() == raw || f.key.eq_ignore_ascii_case(raw))
            .ok_or_else(|| format!("“{raw}” is not a custom field"))
    }

    pub fn resolve_tag(&self, raw: &str) -> Result<i64, String> {
        let raw = raw.trim();
        if let Ok(id) = raw.parse::<i64>() {
            if self.tag(id).is_some() {
                return Ok(id);
            }
        }
        if let Some((cat, name)) = raw.split_once('/') {
            return self
                .categories
                .iter()
                .filter(|c| c.name.eq_ignore_ascii_case(cat.trim()))
                .flat_map(|c| c.tags.iter())
                .find(|t| t.name.eq_ignore_ascii_case(name.trim()))
                .map(|t| t.id)
                .ok_or_else(|| format!("“{raw}” is not a known tag"));
        }
        let found: Vec<i64> = self
            .categories
            .iter()
            .flat_map(|c| c.tags.iter())
            .filter(|t| t.name.eq_ignore_ascii_case(raw))
            .map(|t| t.id)
            .collect();
        match found.as_slice() {
            [one] => Ok(*one),
            [] => Err(format!("“{raw}” is not a known tag")),
            _ => Err(format!("“{raw}” is in several categories: write Category/{raw}")),
        }
    }

    /// Tag ids from raw values, refusing two tags of a single-valued category.
    pub fn resolve_tags(&self, raws: &[String]) -> Result<Vec<i64>, String> {
        let mut ids = Vec::new();
        for r in raws.iter().filter(|r| !r.trim().is_empty()) {
            let id = self.resolve_tag(r)?;
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        for c in self.categories.iter().filter(|c| !c.multi) {
            let n = ids.iter().filter(|id| c.tags.iter().any(|t| t.id == **id)).count();
            if n > 1 {
                return Err(format!("category “{}” takes a single tag", c.name));
            }
        }
        Ok(ids)
    }
}

/// A win probability, 0–100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Probability(i64);

impl Probability {
    pub fn new(p: i64) -> Result<Self, String> {
        if (0..=100).contains(&p) {
            Ok(Probability(p))
        } else {
            Err("must be between 0 and 100".into())
        }
    }
    pub fn parse(raw: &str) -> Result<Self, String> {
        let t = raw.trim().trim_end_matches('%').trim();
        Self::new(
            t.parse::<i64>()
                .map_err(|_| "must be a whole number between 0 and 100".to_string())?,
        )
    }
    pub fn percent(self) -> i64 {
        self.0
    }
}

/// What reaching a stage means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Open,
    Won,
    Lost,
}

impl Outcome {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "open" => Ok(Outcome::Open),
            "won" => Ok(Outcome::Won),
            "lost" => Ok(Outcome::Lost),
            _ => Err("must be open, won or lost".into()),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Won => "won",
            Outcome::Lost => "lost",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StageDef {
    pub id: i64,
    pub pipeline_id: i64,
    pub name: String,
    pub position: i64,
    pub probability: i64,
    pub stall_days: Option<i64>,
    pub outcome: Outcome,
    pub archived: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct PipelineDef {
    pub id: i64,
    pub name: String,
    pub currency: String,
    pub archived: bool,
    pub segment_tag_ids: Vec<i64>,
    pub offer_ids: Vec<i64>,
    pub stages: Vec<StageDef>,
}

impl PipelineDef {
    pub fn stage(&self, id: i64) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.id == id)
    }
    /// The first open stage: where new opportunities start.
    pub fn first_open(&self) -> Option<&StageDef> {
        self.stages.iter().find(|s| s.outcome == Outcome::Open && !s.archived)
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct OfferDef {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub list_price: i64,
    pub currency: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SourceDef {
    pub id: i64,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NamedDef {
    pub id: i64,
    pub name: String,
}

/// Rules on opportunity fields that apply from a stage on.
#[derive(Debug, Clone, Serialize)]
pub struct StageRule {
    pub field: String,
    pub from_stage_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SalesCatalog {
    pub pipelines: Vec<PipelineDef>,
    pub offers: Vec<OfferDef>,
    pub sources: Vec<SourceDef>,
    pub lost_reasons: Vec<NamedDef>,
    pub rules: Vec<StageRule>,
}

fn by_id_or_name<'a, T>(items: &'a [T], raw: &str, id: impl Fn(&T) -> i64, names: impl Fn(&T) -> Vec<&str>) -> Option<&'a T> {
    let raw = raw.trim();
    items
        .iter()
        .find(|x| id(x).to_string() == raw)
        .or_else(|| items.iter().find(|x| names(x).iter().any(|n| n.eq_ignore_ascii_case(raw))))
}

impl SalesCatalog {
    pub fn pipeline(&self, id: i64) -> Option<&PipelineDef> {
        self.pipelines.iter().find(|p| p.id == id)
    }
    pub fn stage(&self, id: i64) -> Option<(&PipelineDef, &StageDef)> {
        self.pipelines.iter().find_map(|p| p.stage(id).map(|s| (p, s)))
    }
    pub fn resolve_pipeline(&self, raw: &str) -> Result<&PipelineDef, String> {
        by_id_or_name(&self.pipelines, raw, |p| p.id, |p| vec![p.name.as_str()])
            .ok_or_else(|| format!("“{}” is not a known pipeline", raw.trim()))
    }
    /// A stage of this pipeline, by id or name.
    pub fn resolve_stage<'a>(&self, p: &'a PipelineDef, raw: &str) -> Result<&'a StageDef, String> {
        if let Some(s) = by_id_or_name(&p.stages, raw, |s| s.id, |s| vec![s.name.as_str()]) {
            return Ok(s);
        }
        if raw.trim().parse::<i64>().ok().and_then(|id| self.stage(id)).is_some() {
            return Err(format!("is a stage of another pipeline than “{}”", p.name));
        }
        Err(format!("“{}” is not a stage of “{}”", raw.trim(), p.name))
    }
    pub fn resolve_offer(&self, raw: &str) -> Result<&OfferDef, String> {
        by_id_or_name(&self.offers, raw, |o| o.id, |o| vec![o.name.as_str(), o.code.as_str()])
            .ok_or_else(|| format!("“{}” is not a known offer", raw.trim()))
    }
    pub fn resolve_source(&self, raw: &str) -> Result<&SourceDef, String> {
        by_id_or_name(&self.sources, raw, |s| s.id, |s| vec![s.name.as_str()])
            .ok_or_else(|| format!("“{}” is not a known source", raw.trim()))
    }
    pub fn resolve_lost_reason(&self, raw: &str) -> Result<&NamedDef, String> {
        by_id_or_name(&self.lost_reasons, raw, |s| s.id, |s| vec![s.name.as_str()])
            .ok_or_else(|| format!("“{}” is not a known lost reason", raw.trim()))
    }
}
