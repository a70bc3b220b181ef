//! The sales process (SPEC S1–S6): pipelines of stages with a win probability,
//! opportunities parsed from raw input against the sales catalogue, orders.

use crate::catalog::Catalog;
use crate::error::FieldErrors;
use crate::fields::{parse_value, Entity, FieldValue};
use crate::input::RawInput;
use crate::values::{optional_text, required_name, Money, MAX_LONG_TEXT, MAX_SHORT_TEXT};
use chrono::NaiveDate;
use serde::Serialize;

pub use crate::catalog::{NamedDef, OfferDef, Outcome, PipelineDef, Probability, SalesCatalog, SourceDef, StageDef, StageRule};

/// A three-letter ISO 4217 code, upper case.
pub fn currency(raw: &str) -> Result<String, String> {
    let c = raw.trim().to_ascii_uppercase();
    if c.len() == 3 && c.chars().all(|ch| ch.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err("must be a three-letter currency code such as EUR".into())
    }
}

/// A non-negative amount in cents.
pub fn amount(raw: &str) -> Result<i64, String> {
    let m = Money::parse(raw)?;
    if m.0 < 0 {
        return Err("must not be negative".into());
    }
    Ok(m.0)
}

#[derive(Debug, Clone, Serialize)]
pub struct OpportunityDraft {
    pub name: String,
    pub account_id: i64,
    pub contact_ids: Vec<i64>,
    pub owner_id: Option<i64>,
    pub pipeline_id: i64,
    pub stage_id: i64,
    pub outcome: Outcome,
    pub amount: i64,
    pub currency: String,
    pub margin: Option<i64>,
    pub offer_id: Option<i64>,
    pub source_id: Option<i64>,
    pub expected_close: Option<NaiveDate>,
    pub lost_reason_id: Option<i64>,
    pub description: Option<String>,
    pub custom: Vec<(i64, FieldValue)>,
}

pub const OPPORTUNITY_FIELDS: &[&str] = &[
    "owner",
    "contacts",
    "amount",
    "margin",
    "offer",
    "source",
    "expected_close",
    "description",
];
const OPPORTUNITY_KEYS: &[&str] = &["name", "account", "pipeline", "stage", "currency", "lost_reason"];

impl OpportunityDraft {
    /// Parses an opportunity. `ignored` lists keys the caller handles itself.
    pub fn parse(input: &RawInput, cat: &Catalog, sales: &SalesCatalog, ignored: &[&str]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        for k in input.0.keys() {
            if let Some(key) = k.strip_prefix("cf.") {
                if !cat.fields_for(Entity::Opportunity).any(|f| f.key == key) {
                    e.add(k.clone(), "is not a custom field of opportunities");
                }
            } else if !OPPORTUNITY_FIELDS.contains(&k.as_str()) && !OPPORTUNITY_KEYS.contains(&k.as_str()) && !ignored.contains(&k.as_str())
            {
                e.add(k.clone(), "is not a known field");
            }
        }
        let name = e.check("name", required_name(input.one("name")));
        let account_id = match input.one("account").trim().trim_start_matches('#').split_whitespace().next() {
            None => {
                e.add("account", "is required");
                None
            }
            Some(t) => e.check("account", t.parse::<i64>().map_err(|_| "must be an account id".to_string())),
        };
        let mut contact_ids = Vec::new();
        for c in input.all("contacts").iter().filter(|c| !c.trim().is_empty()) {
            match c
                .trim()
                .trim_start_matches('#')
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<i64>().ok())
            {
                Some(id) if !contact_ids.contains(&id) => contact_ids.push(id),
                Some(_) => {}
                None => e.add("contacts", "must be contact ids"),
            }
        }
        let owner_id = match input.one("owner").trim() {
            "" => None,
            o => e.check("owner", cat.resolve_user(o)),
        };
        let stage_pipeline = input
            .one("stage")
            .trim()
            .parse::<i64>()
            .ok()
            .and_then(|id| sales.stage(id))
            .map(|(p, _)| p);
        let pipeline = if input.one("pipeline").trim().is_empty() {
            let p = stage_pipeline.or_else(|| sales.pipelines.iter().find(|p| !p.archived));
            if p.is_none() {
                e.add("pipeline", "is required: no pipeline exists");
            }
            p
        } else {
            e.check("pipeline", sales.resolve_pipeline(input.one("pipeline")))
        };
        if pipeline.is_some_and(|p| p.archived) {
            e.add("pipeline", "is archived");
        }
        let stage = pipeline.and_then(|p| {
            if input.one("stage").trim().is_empty() {
                let s = p.first_open();
                if s.is_none() {
                    e.add("stage", "the pipeline has no open stage");
                }
                s
            } else {
                e.check("stage", sales.resolve_stage(p, input.one("stage")))
            }
        });
        let amount = match input.one("amount").trim() {
            "" => Some(0),
            a => e.check("amount", amount(a)),
        };
        let currency_code = match input.one("currency").trim() {
            "" => pipeline.map(|p| p.currency.clone()),
            c => e.check("currency", currency(c)),
        };
        if let (Some(p), Some(c)) = (pipeline, &currency_code) {
            if &p.currency != c {
                e.add("currency", format!("must be the pipeline's currency ({})", p.currency));
            }
        }
        let margin = match input.one("margin").trim() {
            "" => None,
            m => e.check("margin", Money::parse(m).map(|m| m.0)),
        };
        if let (Some(m), Some(a)) = (margin, amount) {
            if m > a {
                e.add("margin", "must not exceed the amount");
            }
        }
        let offer_id = match input.one("offer").trim() {
            "" => None,
            o => e.check("offer", sales.resolve_offer(o).map(|o| o.id)),
        };
        let source_id = match input.one("source").trim() {
            "" => None,
            s => e.check("source", sales.resolve_source(s).map(|s| s.id)),
        };
        let expected_close = match input.one("expected_close").trim() {
            "" => None,
            d => e.check(
                "expected_close",
                NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)".to_string()),
            ),
        };
        let lost_reason_id = match input.one("lost_reason").trim() {
            "" => None,
            r => e.check("lost_reason", sales.resolve_lost_reason(r).map(|r| r.id)),
        };
        let outcome = stage.map(|s| s.outcome).unwrap_or(Outcome::Open);
        if outcome == Outcome::Lost && lost_reason_id.is_none() && !e.0.contains_key("lost_reason") {
            e.add("lost_reason", "is required to close an opportunity as lost");
        }
        let description = e
            .check("description", optional_text(input.one("description"), MAX_LONG_TEXT))
            .flatten();
        let mut custom = Vec::new();
        for f in cat.fields_for(Entity::Opportunity) {
            let k = format!("cf.{}", f.key);
            if let Some(Some(v)) = e.check(&k, parse_value(f, input.all(&k))) {
                custom.push((f.id, v));
            }
        }
        if !e.is_empty() {
            return Err(e);
        }
        let (pipeline, stage) = (pipeline.unwrap(), stage.unwrap());
        let draft = OpportunityDraft {
            name: name.unwrap(),
            account_id: account_id.unwrap(),
            contact_ids,
            owner_id,
            pipeline_id: pipeline.id,
            stage_id: stage.id,
            outcome,
            amount: amount.unwrap(),
            currency: currency_code.unwrap(),
            margin,
            offer_id,
            source_id,
            expected_close,
            lost_reason_id: if outcome == Outcome::Lost { lost_reason_id } else { None },
            description,
            custom,
        };
        draft.check_rules(cat, sales, pipeline, stage)?;
        Ok(draft)
    }

    /// The same opportunity moved to a stage of its pipeline (an id or a name),
    /// with a lost reason (an id or a name) when the stage is a lost one; the
    /// mandatory rules of the target stage are checked on the fields it has.
    pub fn moved(mut self, cat: &Catalog, sales: &SalesCatalog, stage: &str, lost_reason: &str) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let Some(pipeline) = sales.pipeline(self.pipeline_id) else {
            return Err(FieldErrors::single("pipeline", "is not a known pipeline"));
        };
        let target = e.check("stage", sales.resolve_stage(pipeline, stage));
        let reason = match lost_reason.trim() {
            "" => None,
            r => e.check("lost_reason", sales.resolve_lost_reason(r).map(|r| r.id)),
        };
        if let Some(t) = target {
            if t.outcome == Outcome::Lost && reason.is_none() && !e.0.contains_key("lost_reason") {
                e.add("lost_reason", "is required to close an opportunity as lost");
            }
        }
        e.into_result()?;
        let target = target.expect("checked");
        self.stage_id = target.id;
        self.outcome = target.outcome;
        self.lost_reason_id = if target.outcome == Outcome::Lost { reason } else { None };
        self.check_rules(cat, sales, pipeline, target)?;
        Ok(self)
    }

    /// Mandatory rules that apply from a stage on: stages of the same pipeline at
    /// or after the rule's stage (won and lost included).
    fn check_rules(&self, cat: &Catalog, sales: &SalesCatalog, pipeline: &PipelineDef, stage: &StageDef) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        for r in &sales.rules {
            let applies = match r.from_stage_id {
                None => true,
                Some(from) => pipeline.stage(from).is_some_and(|f| stage.position >= f.position),
            };
            if applies && !self.has(&r.field, cat) {
                match r.from_stage_id.and_then(|id| pipeline.stage(id)) {
                    Some(f) => e.add(r.field.clone(), format!("is mandatory from stage “{}” on", f.name)),
                    None => e.add(r.field.clone(), "is mandatory"),
                }
            }
        }
        e.into_result()
    }

    fn has(&self, field: &str, cat: &Catalog) -> bool {
        match field {
            "owner" => self.owner_id.is_some(),
            "contacts" => !self.contact_ids.is_empty(),
            "amount" => self.amount > 0,
            "margin" => self.margin.is_some(),
            "offer" => self.offer_id.is_some(),
            "source" => self.source_id.is_some(),
            "expected_close" => self.expected_close.is_some(),
            "description" => self.description.is_some(),
            other => match other.strip_prefix("cf.") {
                Some(key) => cat
                    .fields_for(Entity::Opportunity)
                    .find(|f| f.key == key)
                    .is_some_and(|f| self.custom.iter().any(|(id, _)| *id == f.id)),
                None => true,
            },
        }
    }
}

/// An order or invoice (S6), as entered or pushed by an invoicing tool.
#[derive(Debug, Clone, Serialize)]
pub struct OrderDraft {
    pub account_id: i64,
    pub number: String,
    pub order_date: NaiveDate,
    pub amount: i64,
    pub margin: Option<i64>,
    pub currency: String,
    pub offer_id: Option<i64>,
}

impl OrderDraft {
    pub fn parse(input: &RawInput, sales: &SalesCatalog, default_currency: &str, ignored: &[&str]) -> Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        for k in input.0.keys() {
            if !["account", "number", "order_date", "amount", "margin", "currency", "offer"].contains(&k.as_str())
                && !ignored.contains(&k.as_str())
            {
                e.add(k.clone(), "is not a known field");
            }
        }
        let account_id = e.check(
            "account",
            input
                .one("account")
                .trim()
                .trim_start_matches('#')
                .split_whitespace()
                .next()
                .unwrap_or("")
                .parse::<i64>()
                .map_err(|_| "must be an account id".to_string()),
        );
        let number = e
            .check("number", required_name(input.one("number")))
            .filter(|n| n.chars().count() <= MAX_SHORT_TEXT);
        let order_date = e.check(
            "order_date",
            NaiveDate::parse_from_str(input.one("order_date").trim(), "%Y-%m-%d").map_err(|_| "must be a date (YYYY-MM-DD)".to_string()),
        );
        let amount_v = e.check(
            "amount",
            if input.one("amount").trim().is_empty() {
                Err("is required".to_string())
            } else {
                amount(input.one("amount"))
            },
        );
        let margin = match input.one("margin").trim() {
            "" => None,
            m => e.check("margin", Money::parse(m).map(|m| m.0)),
        };
        if let (Some(m), Some(a)) = (margin, amount_v) {
            if m > a {
                e.add("margin", "must not exceed the amount");
            }
        }
        let currency_code = match input.one("currency").trim() {
            "" => Some(default_currency.to_string()),
            c => e.check("currency", currency(c)),
        };
        let offer_id = match input.one("offer").trim() {
            "" => None,
            o => e.check("offer", sales.resolve_offer(o).map(|o| o.id)),
        };
        e.into_result()?;
        Ok(OrderDraft {
            account_id: account_id.unwrap(),
            number: number.unwrap(),
            order_date: order_date.unwrap(),
            amount: amount_v.unwrap(),
            margin,
            currency: currency_code.unwrap(),
            offer_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sales() -> SalesCatalog {
        let st = |id, name: &str, position, probability, outcome| StageDef {
            id,
            pipeline_id: 1,
            name: name.into(),
            position,
            probability,
            stall_days: Some(14),
            outcome,
            archived: false,
        };
        SalesCatalog {
            pipelines: vec![
                PipelineDef {
                    id: 1,
                    name: "SMB".into(),
                    currency: "EUR".into(),
                    archived: false,
                    segment_tag_ids: vec![],
                    offer_ids: vec![],
                    stages: vec![
                        st(10, "Qualification", 1, 10, Outcome::Open),
                        st(11, "Proposal", 2, 50, Outcome::Open),
                        st(12, "Won", 3, 100, Outcome::Won),
                        st(13, "Lost", 4, 0, Outcome::Lost),
                    ],
                },
                PipelineDef {
                    id: 2,
                    name: "Export".into(),
                    currency: "USD".into(),
                    archived: false,
                    segment_tag_ids: vec![],
                    offer_ids: vec![],
                    stages: vec![StageDef {
                        id: 20,
                        pipeline_id: 2,
                        name: "Lead".into(),
                        position: 1,
                        probability: 5,
                        stall_days: None,
                        outcome: Outcome::Open,
                        archived: false,
                    }],
                },
            ],
            offers: vec![],
            sources: vec![SourceDef {
                id: 1,
                name: "Partner".into(),
                kind: "other".into(),
            }],
            lost_reasons: vec![NamedDef {
                id: 1,
                name: "Price".into(),
            }],
            rules: vec![StageRule {
                field: "amount".into(),
                from_stage_id: Some(11),
            }],
        }
    }

    fn input(pairs: &[(&str, &str)]) -> RawInput {
        RawInput::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())))
    }

    #[test]
    fn defaults_and_rules() {
        let cat = Catalog::default();
        let d = OpportunityDraft::parse(&input(&[("name", "Deal"), ("account", "5")]), &cat, &sales(), &[]).unwrap();
        assert_eq!((d.pipeline_id, d.stage_id, d.currency.as_str(), d.amount), (1, 10, "EUR", 0));
        let e = OpportunityDraft::parse(
            &input(&[("name", "Deal"), ("account", "5"), ("stage", "Proposal")]),
            &cat,
            &sales(),
            &[],
        )
        .unwrap_err();
        assert_eq!(e.get("amount"), Some("is mandatory from stage “Proposal” on"));
        let e = OpportunityDraft::parse(
            &input(&[("name", "Deal"), ("account", "5"), ("stage", "Lost"), ("amount", "10")]),
            &cat,
            &sales(),
            &[],
        )
        .unwrap_err();
        assert!(e.get("lost_reason").is_some());
        assert!(OpportunityDraft::parse(
            &input(&[
                ("name", "D"),
                ("account", "5"),
                ("stage", "Lost"),
                ("amount", "10"),
                ("lost_reason", "price")
            ]),
            &cat,
            &sales(),
            &[]
        )
        .is_ok());
    }

    #[test]
    fn bad_input() {
        let cat = Catalog::default();
        for (pairs, field) in [
            (vec![("name", "D"), ("account", "5"), ("amount", "-3")], "amount"),
            (vec![("name", "D"), ("account", "5"), ("amount", "abc")], "amount"),
            (vec![("name", "D"), ("account", "5"), ("pipeline", "SMB"), ("stage", "20")], "stage"),
            (vec![("name", "D"), ("account", "5"), ("stage", "Nope")], "stage"),
            (vec![("name", "D"), ("account", "5"), ("currency", "USD")], "currency"),
            (vec![("name", "D"), ("account", "5"), ("margin", "20"), ("amount", "10")], "margin"),
            (vec![("name", "D")], "account"),
            (vec![("name", "D"), ("account", "5"), ("source", "Mars")], "source"),
        ] {
            let e = OpportunityDraft::parse(&input(&pairs), &cat, &sales(), &[]).unwrap_err();
            assert!(e.get(field).is_some(), "{pairs:?} → {e:?}");
        }
        assert!(Probability::parse("101").is_err());
        assert_eq!(Probability::parse("35 %").unwrap().percent(), 35);
    }

    proptest! {
        #[test]
        fn probability_accepts_exactly_0_to_100(p in -1000i64..1000) {
            prop_assert_eq!(Probability::new(p).is_ok(), (0..=100).contains(&p));
        }
    }
}
