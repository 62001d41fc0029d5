//! The faults a run can inject and the seeded schedules of them. A fault is applied, held
//! for its duration while the workload runs, then healed; the run then waits for the
//! cluster to make progress again before the next one.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Which node a fault hits: a fixed one, or whichever leads when the fault starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Leader,
    Follower,
    Node(u64),
    /// The node running the most agent tasks at the time (the leader when none runs):
    /// its death makes the tasks fail over.
    TaskOwner,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum Fault {
    /// SIGKILL, stay down for `down_ms`, restart from the data directory.
    KillRestart { target: Target, down_ms: u64 },
    /// SIGSTOP for `pause_ms`, then SIGCONT.
    Pause { target: Target, pause_ms: u64 },
    /// Cut the node off from every other node (both ways) for `hold_ms`.
    Isolate { target: Target, hold_ms: u64 },
    /// Stall what the target sends to every other node, while it still hears them.
    OneWayOut { target: Target, hold_ms: u64 },
    /// Delay every link between nodes by `delay_ms` plus up to `jitter_ms`.
    SlowLinks {
        delay_ms: u64,
        jitter_ms: u64,
        hold_ms: u64,
    },
    /// A rolling upgrade into another build: the cluster starts on builds of the previous
    /// protocol (the `warden` failpoint build told `node::protocol=return(N-1)`); each
    /// node in turn is stopped with SIGTERM and started as this build, waiting for
    /// progress between nodes; then every node must apply this build's protocol, which
    /// the leader raises once all speak it.
    RollingUpgrade,
    /// Isolate the target and heal it again, `flaps` times, each state held `period_ms`.
    FlappingIsolate {
        target: Target,
        flaps: u32,
        period_ms: u64,
    },
    /// Start a new node behind its own proxy, add it as a learner, wait for it to catch
    /// up and promote it to voter, while clients submit.
    AddNode,
    /// Remove the target from the membership while clients submit, then stop it for good.
    RemoveNode { target: Target },
    /// SIGKILL, stay down for `down_ms` (several seconds) while acknowledged submissions
    /// are counted each second, restart: throughput with one node down.
    NodeDown { target: Target, down_ms: u64 },
    /// Cut every link between nodes for `hold_ms`: no side holds a majority, so nothing
    /// commits and no task lease is renewed until it heals. Clients still reach every
    /// node.
    NoMajority { hold_ms: u64 },
    /// SIGKILL the target and start it again with storage failpoint `point` set to fire
    /// after `after` passes: a write error (`crash` false) stops the node the way a failed
    /// fsync does, `return(abort)` (`crash` true) crashes it in the middle of the write.
    /// Once it has stopped, it is started again without the failpoint. For a snapshot
    /// install point the target first stays down until the leader has purged its log
    /// past the target's end, so that it has to catch up by snapshot.
    Storage {
        target: Target,
        point: StoragePoint,
        crash: bool,
        after: u32,
    },
}

/// The storage layer's failpoints, by place: `warden_raft::failpoints` names them. A
/// `warden` built with the `failpoints` feature reads them from `FAILPOINTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoragePoint {
    LogAppendBeforeSync,
    LogAppendAfterSync,
    ApplyBeforeWrite,
    ApplyAfterWrite,
    SnapshotInstallBeforeWrite,
    SnapshotInstallAfterWrite,
}

impl StoragePoint {
    pub const ALL: [StoragePoint; 6] = [
        StoragePoint::LogAppendBeforeSync,
        StoragePoint::LogAppendAfterSync,
        StoragePoint::ApplyBeforeWrite,
        StoragePoint::ApplyAfterWrite,
        StoragePoint::SnapshotInstallBeforeWrite,
        StoragePoint::SnapshotInstallAfterWrite,
    ];

    /// The failpoint's name in the server.
    pub fn name(self) -> &'static str {
        match self {
            StoragePoint::LogAppendBeforeSync => "raft::log::append::before_sync",
            StoragePoint::LogAppendAfterSync => "raft::log::append::after_sync",
            StoragePoint::ApplyBeforeWrite => "raft::apply::before_write",
            StoragePoint::ApplyAfterWrite => "raft::apply::after_write",
            StoragePoint::SnapshotInstallBeforeWrite => "raft::snapshot::install::before_write",
            StoragePoint::SnapshotInstallAfterWrite => "raft::snapshot::install::after_write",
        }
    }

    /// Whether it is passed only when a snapshot from the leader is installed.
    pub fn needs_snapshot(self) -> bool {
        matches!(
            self,
            StoragePoint::SnapshotInstallBeforeWrite | StoragePoint::SnapshotInstallAfterWrite
        )
    }

    /// The `FAILPOINTS` value that makes the point fire at its `after + 1`-th pass.
    pub fn failpoints_env(self, crash: bool, after: u32) -> String {
        let action = if crash { "return(abort)" } else { "return" };
        format!("{}={after}*off->{action}", self.name())
    }
}

impl Fault {
    /// Whether the fault SIGKILLs its target and keeps it down: the case the leader
    /// failover target is about. A storage fault kills its target too, but starts it again
    /// at once, and it dies again at its failpoint, possibly as the new leader: its
    /// failover spans two losses of the leader.
    pub fn kills_and_keeps_down(&self) -> bool {
        matches!(self, Fault::KillRestart { .. } | Fault::NodeDown { .. })
    }

    pub fn hold(&self) -> Duration {
        Duration::from_millis(match self {
            Fault::KillRestart { down_ms, .. } | Fault::NodeDown { down_ms, .. } => *down_ms,
            Fault::Pause { pause_ms, .. } => *pause_ms,
            Fault::Isolate { hold_ms, .. }
            | Fault::OneWayOut { hold_ms, .. }
            | Fault::SlowLinks { hold_ms, .. } => *hold_ms,
            Fault::NoMajority { hold_ms } => *hold_ms,
            Fault::RollingUpgrade
            | Fault::AddNode
            | Fault::RemoveNode { .. }
            | Fault::Storage { .. } => 0,
            Fault::FlappingIsolate { period_ms, .. } => *period_ms,
        })
    }
}

/// The election timeout range the nodes run with (raft defaults): fault durations are
/// drawn around it, so some faults end before an election and some cause one.
const ELECTION_MS: u64 = 400;

/// The task lease the nodes run with (`runtime.lease` in `cluster::NODE_SETTINGS`): pauses
/// of a task's owner are drawn around it too, so some end before its tasks' leases run
/// out and some outlast them, and the tasks move to another node while the paused one
/// still believes it runs them.
pub const TASK_LEASE_MS: u64 = 3_000;

/// How many passes a log or apply failpoint lets through before it fires, at most.
const MAX_PASSES_BEFORE_FIRING: u32 = 20;

/// Seeds the stream membership changes are drawn from, apart from the other faults'.
const MEMBERSHIP_STREAM: u64 = 0x6d65_6d62_6572_7321;

/// One in this many faults is a membership change.
const MEMBERSHIP_ONE_IN: u32 = 6;

/// `count` faults drawn from `seed`: the same seed always gives the same schedule.
///
/// Membership changes come from a stream of their own, so the other faults of a seed are
/// the ones drawn before membership changes existed, where a change did not take their
/// place. They alternate, adding a node then removing a target drawn like the other
/// faults' targets, so the cluster never has fewer voters than it started with.
pub fn random_schedule(seed: u64, count: usize) -> Vec<Fault> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut membership_rng = StdRng::seed_from_u64(seed ^ MEMBERSHIP_STREAM);
    let mut added = false;
    (0..count)
        .map(|_| {
            let fault = draw(&mut rng);
            if !membership_rng.random_ratio(1, MEMBERSHIP_ONE_IN) {
                return fault;
            }
            added = !added;
            if added {
                Fault::AddNode
            } else {
                Fault::RemoveNode {
                    target: draw_target(&mut membership_rng),
                }
            }
        })
        .collect()
}

/// The leader half the time (leader faults test failover), else a follower or the node
/// running the most agent tasks (task failover).
fn draw_target(rng: &mut StdRng) -> Target {
    match rng.random_range(0..4) {
        0 => Target::Follower,
        1 => Target::TaskOwner,
        _ => Target::Leader,
    }
}

/// One signal, link or storage fault.
fn draw(rng: &mut StdRng) -> Fault {
    let target = draw_target(rng);
    // About half, once and three times the election timeout.
    let hold_ms = [ELECTION_MS / 2, ELECTION_MS, 3 * ELECTION_MS][rng.random_range(0..3)];
    match rng.random_range(0..8) {
        0 => Fault::KillRestart {
            target,
            down_ms: hold_ms,
        },
        1 => Fault::Pause {
            target,
            pause_ms: hold_ms,
        },
        2 => Fault::Isolate {
            target,
            hold_ms: hold_ms.max(ELECTION_MS) * 2,
        },
        3 => Fault::OneWayOut {
            target,
            hold_ms: hold_ms.max(ELECTION_MS) * 2,
        },
        4 => Fault::SlowLinks {
            delay_ms: 20,
            jitter_ms: 30,
            hold_ms: 1500,
        },
        5 => Fault::Pause {
            target: Target::TaskOwner,
            pause_ms: [TASK_LEASE_MS / 2, TASK_LEASE_MS, 3 * TASK_LEASE_MS][rng.random_range(0..3)],
        },
        6 => Fault::NoMajority {
            hold_ms: [2 * ELECTION_MS, TASK_LEASE_MS, 2 * TASK_LEASE_MS][rng.random_range(0..3)],
        },
        _ => {
            let point = StoragePoint::ALL[rng.random_range(0..StoragePoint::ALL.len())];
            // A snapshot is installed once per catch-up: its point must fire at the first.
            let after = if point.needs_snapshot() {
                0
            } else {
                rng.random_range(0..=MAX_PASSES_BEFORE_FIRING)
            };
            Fault::Storage {
                target,
                point,
                crash: rng.random_bool(0.5),
                after,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_schedule() {
        assert_eq!(random_schedule(7, 20), random_schedule(7, 20));
        assert_ne!(random_schedule(7, 20), random_schedule(8, 20));
    }

    #[test]
    fn schedules_cover_every_kind_of_fault() {
        let schedule = random_schedule(1, 200);
        let kinds: std::collections::BTreeSet<&str> = schedule
            .iter()
            .map(|fault| match fault {
                Fault::KillRestart { .. } => "kill",
                Fault::Pause { .. } => "pause",
                Fault::Isolate { .. } => "isolate",
                Fault::OneWayOut { .. } => "one-way",
                Fault::SlowLinks { .. } => "slow",
                Fault::AddNode => "add",
                Fault::RemoveNode { .. } => "remove",
                Fault::NoMajority { .. } => "no-majority",
                Fault::Storage { .. } => "storage",
                Fault::RollingUpgrade | Fault::FlappingIsolate { .. } | Fault::NodeDown { .. } => {
                    "fixed scenarios only"
                }
            })
            .collect();
        assert_eq!(kinds.len(), 9, "{kinds:?}");
    }

    #[test]
    fn pauses_are_drawn_around_the_election_timeout_and_the_task_lease() {
        let pauses: std::collections::BTreeSet<u64> = random_schedule(2, 400)
            .iter()
            .filter_map(|fault| match fault {
                Fault::Pause { pause_ms, .. } => Some(*pause_ms),
                _ => None,
            })
            .collect();
        let expected = [
            ELECTION_MS / 2,
            ELECTION_MS,
            TASK_LEASE_MS / 2,
            3 * ELECTION_MS,
            TASK_LEASE_MS,
            3 * TASK_LEASE_MS,
        ];
        assert_eq!(pauses, expected.into_iter().collect(), "{pauses:?}");
    }

    #[test]
    fn every_storage_point_is_drawn_as_an_error_and_as_a_crash() {
        let drawn: std::collections::BTreeSet<(StoragePoint, bool)> = random_schedule(3, 1000)
            .iter()
            .filter_map(|fault| match fault {
                Fault::Storage {
                    point,
                    crash,
                    after,
                    ..
                } => {
                    assert!(
                        *after <= MAX_PASSES_BEFORE_FIRING
                            && (*after == 0 || !point.needs_snapshot()),
                        "{fault:?}"
                    );
                    Some((*point, *crash))
                }
                _ => None,
            })
            .collect();
        assert_eq!(drawn.len(), 2 * StoragePoint::ALL.len(), "{drawn:?}");
    }

    #[test]
    fn only_kills_that_keep_the_node_down_count_for_the_failover_target() {
        let kill = Fault::KillRestart {
            target: Target::Leader,
            down_ms: 400,
        };
        let storage = Fault::Storage {
            target: Target::Leader,
            point: StoragePoint::ApplyBeforeWrite,
            crash: false,
            after: 0,
        };
        let pause = Fault::Pause {
            target: Target::Leader,
            pause_ms: 400,
        };
        assert!(kill.kills_and_keeps_down());
        assert!(!storage.kills_and_keeps_down());
        assert!(!pause.kills_and_keeps_down());
    }

    #[test]
    fn failpoints_fire_after_the_passes_asked_for() {
        assert_eq!(
            StoragePoint::ApplyAfterWrite.failpoints_env(false, 3),
            "raft::apply::after_write=3*off->return"
        );
        assert_eq!(
            StoragePoint::LogAppendBeforeSync.failpoints_env(true, 0),
            "raft::log::append::before_sync=0*off->return(abort)"
        );
    }

    #[test]
    fn membership_changes_never_shrink_the_cluster() {
        for seed in 0..50 {
            let mut added = 0i32;
            for fault in random_schedule(seed, 30) {
                match fault {
                    Fault::AddNode => added += 1,
                    Fault::RemoveNode { .. } => added -= 1,
                    _ => {}
                }
                assert!(
                    (0..=1).contains(&added),
                    "seed {seed}: {added} nodes added and not removed"
                );
            }
        }
    }

    #[test]
    fn membership_changes_leave_the_other_faults_of_a_seed_in_place() {
        let mut rng = StdRng::seed_from_u64(9);
        let without: Vec<Fault> = (0..40).map(|_| draw(&mut rng)).collect();
        let with = random_schedule(9, 40);
        let kept = with
            .iter()
            .zip(&without)
            .filter(|(fault, _)| !matches!(fault, Fault::AddNode | Fault::RemoveNode { .. }))
            .all(|(fault, before)| fault == before);
        assert!(kept, "{with:?}");
        assert!(with.contains(&Fault::AddNode));
    }
}
