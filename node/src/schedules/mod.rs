//! The leader's scheduler. While this node leads (and once it has applied what its
//! predecessor committed), it looks at every workspace's schedules each tick, computes
//! their due times (`plan.rs`: croner for the cron expression, chrono-tz for the time
//! zone) and proposes a `FireSchedule` for each, in due-time order. `apply()` accepts a
//! firing only after the last one recorded, so a due time fires once however many leaders
//! come and go around it, and a firing that runs submits its task in the same commit.

pub mod plan;

use std::time::Duration;

use openraft::ServerState;
use warden_core::{Command, NodeId, Outcome, Principal, Request, Schedule, TaskId};

use self::plan::Calendar;
use crate::api::now_ms;
use crate::cluster::{Cluster, Consistency};

/// How often the schedules are looked at.
const TICK: Duration = Duration::from_millis(250);

pub async fn run(cluster: Cluster) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The term in which this node, leading, has applied everything committed before it.
    let mut caught_up: Option<u64> = None;
    loop {
        ticker.tick().await;
        let Some(term) = leading(&cluster) else {
            caught_up = None;
            continue;
        };
        // A new leader first applies the firings its predecessor committed.
        if caught_up != Some(term) {
            match cluster.read_barrier(Consistency::Linearizable).await {
                Ok(()) => caught_up = Some(term),
                Err(error) => {
                    tracing::debug!(%error, "scheduler waiting to catch up");
                    continue;
                }
            }
        }
        let schedules = match cluster.reader().all_schedules() {
            Ok(schedules) => schedules,
            Err(error) => {
                tracing::warn!(%error, "reading the schedules");
                continue;
            }
        };
        for schedule in schedules.iter().filter(|schedule| !schedule.spec.paused) {
            fire_due(&cluster, schedule).await;
        }
    }
}

/// The current term while this node leads.
fn leading(cluster: &Cluster) -> Option<u64> {
    let metrics = cluster.raft().metrics();
    let metrics = metrics.borrow();
    (metrics.state == ServerState::Leader).then_some(metrics.current_term)
}

/// Proposes the firings `schedule` is due for, stopping at the first not applied.
async fn fire_due(cluster: &Cluster, schedule: &Schedule) {
    let spec = &schedule.spec;
    let calendar = match Calendar::parse(&spec.cron, &spec.timezone) {
        Ok(calendar) => calendar,
        Err(error) => {
            // Checked when it was put; a build that reads it otherwise says so.
            tracing::warn!(workspace = %schedule.workspace, schedule = %spec.name, %error, "schedule cannot fire");
            return;
        }
    };
    let now = now_ms();
    for firing in calendar.due(schedule.last_due_ms, now, spec.catch_up) {
        let request = Request {
            time_ms: now_ms(),
            principal: Principal::node(NodeId(cluster.node_id())),
            token: None,
            command: Command::FireSchedule {
                workspace: schedule.workspace.clone(),
                name: spec.name.clone(),
                version: schedule.version,
                due_ms: firing.due_ms,
                run: firing.run,
                missed: firing.missed,
                task_id: TaskId::new(now_ms(), rand::random::<u128>()),
            },
        };
        let result = match firing.run {
            true => "run",
            false => "skipped",
        };
        match cluster.propose(request).await {
            Ok(Outcome::ScheduleFired { .. }) => {
                metrics::counter!("warden_schedule_firings_total", "result" => result).increment(1);
            }
            Ok(Outcome::Rejected(rejection)) => {
                // The state moved (a change of the spec, a firing another leader made);
                // the next tick reads it again.
                tracing::debug!(schedule = %spec.name, %rejection, "firing refused");
                return;
            }
            Ok(_) => return,
            Err(error) => {
                tracing::debug!(schedule = %spec.name, %error, "firing not proposed");
                return;
            }
        }
    }
}
