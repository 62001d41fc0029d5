//! Figures over a set of runs: how many broke an invariant, and failover, degraded
//! throughput and convergence as percentiles.

use serde::Serialize;

use crate::run::RunReport;

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub runs: usize,
    pub failed_runs: usize,
    pub failed_seeds: Vec<u64>,
    pub faults: usize,
    pub failover_p50_ms: Option<u64>,
    pub failover_p99_ms: Option<u64>,
    /// Failover after the leader was SIGKILLed only.
    pub kill_failover_p50_ms: Option<u64>,
    pub kill_failover_p99_ms: Option<u64>,
    pub convergence_p50_ms: Option<u64>,
    pub convergence_p99_ms: Option<u64>,
    pub degraded_per_second_p50: Option<f64>,
    pub degraded_per_second_p99: Option<f64>,
    /// Owner SIGKILLed -> the task's next journal step at a later epoch.
    pub resume_p50_ms: Option<u64>,
    pub resume_p99_ms: Option<u64>,
    /// Agent tasks over all runs, by how they ended.
    pub agent_tasks: usize,
    pub agent_outcomes: std::collections::BTreeMap<String, usize>,
}

/// The value at quantile `q` (0..=1) of `values`, nearest-rank.
pub fn percentile<T: Copy + PartialOrd>(values: &[T], q: f64) -> Option<T> {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl Summary {
    pub fn of(reports: &[RunReport]) -> Summary {
        let failovers: Vec<u64> = reports
            .iter()
            .flat_map(|r| r.failover_ms.iter().copied())
            .collect();
        let kill_failovers: Vec<u64> = reports
            .iter()
            .flat_map(|r| r.kill_failover_ms.iter().copied())
            .collect();
        let convergence: Vec<u64> = reports.iter().map(|r| r.convergence_ms).collect();
        let degraded: Vec<f64> = reports
            .iter()
            .flat_map(|r| r.degraded_per_second.iter().copied())
            .collect();
        let resumes: Vec<u64> = reports
            .iter()
            .flat_map(|r| r.resume_ms.iter().copied())
            .collect();
        let mut agent_outcomes = std::collections::BTreeMap::new();
        for (status, count) in reports.iter().flat_map(|r| &r.agent_outcomes) {
            *agent_outcomes.entry(status.clone()).or_default() += count;
        }
        let failed: Vec<u64> = reports
            .iter()
            .filter(|r| !r.violations.is_empty())
            .map(|r| r.seed)
            .collect();
        Summary {
            runs: reports.len(),
            failed_runs: failed.len(),
            failed_seeds: failed,
            faults: reports.iter().map(|r| r.faults.len()).sum(),
            failover_p50_ms: percentile(&failovers, 0.50),
            failover_p99_ms: percentile(&failovers, 0.99),
            kill_failover_p50_ms: percentile(&kill_failovers, 0.50),
            kill_failover_p99_ms: percentile(&kill_failovers, 0.99),
            convergence_p50_ms: percentile(&convergence, 0.50),
            convergence_p99_ms: percentile(&convergence, 0.99),
            degraded_per_second_p50: percentile(&degraded, 0.50),
            degraded_per_second_p99: percentile(&degraded, 0.99),
            resume_p50_ms: percentile(&resumes, 0.50),
            resume_p99_ms: percentile(&resumes, 0.99),
            agent_tasks: reports.iter().map(|r| r.agent_tasks).sum(),
            agent_outcomes,
        }
    }

    /// One line about one run.
    pub fn line(report: &RunReport) -> String {
        let verdict = if report.violations.is_empty() {
            "ok".to_owned()
        } else {
            format!("VIOLATED:\n  {}", report.violations.join("\n  "))
        };
        let outcomes: Vec<String> = report
            .agent_outcomes
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        format!(
            "seed {:<6} faults {:<3} acked {:<6} unknown {:<4} failover p50 {:>6} ms  resume p50 {:>6} ms  converged in {:>5} ms  agent tasks {} ({}), {} decisions  {verdict}",
            report.seed,
            report.faults.len(),
            report.acknowledged,
            report.unknown,
            percentile(&report.failover_ms, 0.5).map_or("-".to_owned(), |v| v.to_string()),
            percentile(&report.resume_ms, 0.5).map_or("-".to_owned(), |v| v.to_string()),
            report.convergence_ms,
            report.agent_tasks,
            outcomes.join(", "),
            report.decisions,
        )
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |value: Option<u64>| value.map_or("-".to_owned(), |v| format!("{v} ms"));
        writeln!(
            f,
            "runs {}, failed {} {:?}, faults {}",
            self.runs, self.failed_runs, self.failed_seeds, self.faults
        )?;
        writeln!(
            f,
            "leader failover after SIGKILL p50 {} p99 {}; after any leader fault p50 {} p99 {}",
            ms(self.kill_failover_p50_ms),
            ms(self.kill_failover_p99_ms),
            ms(self.failover_p50_ms),
            ms(self.failover_p99_ms)
        )?;
        writeln!(
            f,
            "convergence p50 {} p99 {}",
            ms(self.convergence_p50_ms),
            ms(self.convergence_p99_ms)
        )?;
        writeln!(
            f,
            "task resume p50 {} p99 {}",
            ms(self.resume_p50_ms),
            ms(self.resume_p99_ms)
        )?;
        let outcomes: Vec<String> = self
            .agent_outcomes
            .iter()
            .map(|(status, count)| format!("{status} {count}"))
            .collect();
        writeln!(
            f,
            "agent tasks {} ({})",
            self.agent_tasks,
            outcomes.join(", ")
        )?;
        let rate = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1}/s"));
        write!(
            f,
            "acknowledged with a node down p50 {} p99 {}",
            rate(self.degraded_per_second_p50),
            rate(self.degraded_per_second_p99)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 0.5), Some(50));
        assert_eq!(percentile(&values, 0.99), Some(99));
        assert_eq!(percentile(&[7u64], 0.99), Some(7));
        assert_eq!(percentile::<u64>(&[], 0.5), None);
    }
}
