//! How the facts stay exact: watchers of opportunities, actions and accounts
//! (see `platform::events`). Each reads what the records contribute before a
//! write and applies the difference after, in the writer's transaction; the
//! settings subscriber recomputes everything when the segments change. The
//! daily snapshot of the pipeline is a job kind of its own.

use super::facts::{self, ActState, OppState};
use crate::db::Tx;
use crate::error::Result;
use crate::platform::events::{snapshot, Event, EventKind, Scope, Snapshot, Watcher};
use crate::platform::jobs::{self, When};
use crate::platform::registry::{BoxFut, Delivery, JobKind, Mode, Registry, Subscriber};
use crate::Carnet;
use serde::{Deserialize, Serialize};

type Opportunities = Vec<(i64, Option<OppState>)>;

fn before_opportunities<'a>(tx: &'a mut Tx, scope: &'a Scope) -> BoxFut<'a, Result<Snapshot>> {
    Box::pin(async move {
        let mut out: Opportunities = Vec::new();
        for id in &scope.ids {
            out.push((*id, facts::opp_state(&mut *tx, *id).await?));
        }
        Ok(Box::new(out) as Snapshot)
    })
}

fn after_opportunities<'a>(tx: &'a mut Tx, scope: &'a Scope, before: Option<Snapshot>, gone: bool) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before: Opportunities = snapshot(before)?;
        for id in &scope.ids {
            let was = before.iter().find(|(b, _)| b == id).and_then(|(_, s)| s.as_ref());
            if gone {
                // While its actions are still there: they go with it.
                facts::apply_opportunity(&mut *tx, was, None).await?;
                facts::forget_opportunity_actions(&mut *tx, *id).await?;
            } else {
                let now = facts::opp_state(&mut *tx, *id).await?;
                facts::apply_opportunity(&mut *tx, was, now.as_ref()).await?;
            }
        }
        Ok(())
    })
}

type Actions = Vec<Option<ActState>>;

fn before_actions<'a>(tx: &'a mut Tx, scope: &'a Scope) -> BoxFut<'a, Result<Snapshot>> {
    Box::pin(async move {
        let mut out: Actions = Vec::new();
        for id in &scope.ids {
            out.push(facts::action_state(&mut *tx, *id).await?);
        }
        Ok(Box::new(out) as Snapshot)
    })
}

fn after_actions<'a>(tx: &'a mut Tx, scope: &'a Scope, before: Option<Snapshot>, gone: bool) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before: Vec<ActState> = snapshot::<Actions>(before)?.into_iter().flatten().collect();
        let mut after = Vec::new();
        if !gone {
            for id in &scope.ids {
                after.extend(facts::action_state(&mut *tx, *id).await?);
            }
        }
        facts::apply_actions(tx, &before, &after).await
    })
}

/// An account's deals and done actions, as the facts see them.
type Accounts = Vec<(i64, Vec<OppState>, Vec<ActState>)>;

fn before_accounts<'a>(tx: &'a mut Tx, scope: &'a Scope) -> BoxFut<'a, Result<Snapshot>> {
    Box::pin(async move {
        let mut out: Accounts = Vec::new();
        for id in &scope.ids {
            let deals = facts::opp_states_of_account(&mut *tx, *id).await?;
            let actions = facts::account_actions(&mut *tx, *id).await?;
            out.push((*id, deals, actions));
        }
        Ok(Box::new(out) as Snapshot)
    })
}

fn after_accounts<'a>(tx: &'a mut Tx, scope: &'a Scope, before: Option<Snapshot>, gone: bool) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let before: Accounts = snapshot(before)?;
        for id in &scope.ids {
            if gone {
                facts::forget_account(&mut *tx, *id).await?;
                continue;
            }
            let Some((_, deals, actions)) = before.iter().find(|(a, _, _)| a == id) else {
                // A new account: nothing hangs off it yet.
                continue;
            };
            // A changed segment moves its deals (their segment is kept by sales,
            // which settles first) and its done actions.
            let deals_now = facts::opp_states_of_account(&mut *tx, *id).await?;
            facts::apply_opportunities(&mut *tx, deals, &deals_now).await?;
            let actions_now = facts::account_actions(&mut *tx, *id).await?;
            facts::apply_actions(&mut *tx, actions, &actions_now).await?;
        }
        Ok(())
    })
}

fn on_settings<'a>(tx: &'a mut Tx, e: &'a Event) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        if e.data["segments"].as_bool() == Some(true) {
            facts::rebuild(tx).await?;
        }
        Ok(())
    })
}

/// Takes the pipeline and segment snapshot of a past day.
pub struct TakeSnapshot;

#[derive(Debug, Serialize, Deserialize)]
pub struct Day {
    pub day: chrono::NaiveDate,
}

impl JobKind for TakeSnapshot {
    const NAME: &'static str = "snapshot";
    const MODE: Mode = Mode::Alone;
    type Payload = Day;

    fn run_alone(c: &Carnet, p: Day) -> BoxFut<'_, Result<()>> {
        Box::pin(super::snapshots::take(&c.db, p.day))
    }
}

/// The daily job's part: each day's snapshot is queued to run when that day
/// ends in the reporting zone — today's, and yesterday's in case it was not
/// queued (a job queued twice under its key runs once).
fn daily<'a>(tx: &'a mut Tx, _utc_day: chrono::NaiveDate) -> BoxFut<'a, Result<()>> {
    Box::pin(async move {
        let tz = facts::zone(&mut *tx).await?;
        let today = facts::day(tz, tx.now());
        for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
            let end = carnet_domain::time::day_start(tz, day + chrono::Duration::days(1));
            jobs::enqueue::<TakeSnapshot>(tx, &Day { day }, When::At(end), Some(format!("snapshot:{day}"))).await?;
        }
        Ok(())
    })
}

/// The analysis watchers, subscribers and job kinds (see `crate::registry`).
pub fn register(r: Registry) -> Registry {
    r.watch(Watcher {
        name: "deal facts",
        entity: "opportunity",
        before: before_opportunities,
        after: after_opportunities,
    })
    .watch(Watcher {
        name: "action facts",
        entity: "action",
        before: before_actions,
        after: after_actions,
    })
    .watch(Watcher {
        name: "facts of an account's deals and actions",
        entity: "account",
        before: before_accounts,
        after: after_accounts,
    })
    .subscribe(Subscriber {
        name: "facts after a change of segments",
        kinds: &[EventKind::SettingsChanged],
        delivery: Delivery::InWriterTx,
        run: on_settings,
    })
    .job::<TakeSnapshot>()
    .daily(daily)
}
