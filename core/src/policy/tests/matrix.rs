//! The decision matrix: a realistic workspace policy and the decision for each of a
//! table of calls, covering every subject, target and test kind, priorities, the
//! equal-priority tie-break, default deny and broken conditions.

use serde_json::json;

use super::*;

/// A workspace's policy: research agents read data, CI pushes to one repository,
/// operators refund, admins fall back to anything, and a shell is off limits.
pub fn workspace_policy() -> PolicySet {
    let rules = vec![
        rule(
            "allow-time",
            0,
            Subject::Any,
            tool("time", "get_current_time"),
            vec![],
            Effect::Allow,
        ),
        rule(
            "fs-reads",
            10,
            Subject::Agent(AgentName::parse("researcher").expect("valid agent")),
            Target::Server(server("fs")),
            vec![
                when("$.path", Test::Prefix("/data/".to_owned())),
                when("$.mode", one_of(&[json!("read"), json!("stat")])),
                when("$.max_bytes", range(None, Some(json!(1_000_000)))),
            ],
            Effect::Allow,
        ),
        rule(
            "no-secrets",
            10,
            Subject::Any,
            Target::Server(server("fs")),
            vec![when(
                "$.path",
                Test::Regex(r"(^|/)\.env$|secret".to_owned()),
            )],
            Effect::Deny,
        ),
        rule(
            "ci-github",
            5,
            Subject::Principal(principal("service/ci")),
            Target::Server(server("github")),
            vec![when("$.repo", equals(json!("acme/warden")))],
            Effect::Allow,
        ),
        rule(
            "github-force-push",
            20,
            Subject::Any,
            tool("github", "push"),
            vec![when("$.options.force", equals(json!(true)))],
            approval(vec![Approver::Role(Role::Approver)], 1, 600_000),
        ),
        rule(
            "refund-auto",
            10,
            Subject::Role(Role::Operator),
            tool("payments", "refund"),
            vec![
                when("$.amount_cents", range(Some(json!(1)), Some(json!(10_000)))),
                when("$.ticket", Test::Exists(true)),
                when("$['on behalf of']", Test::Exists(false)),
            ],
            Effect::Allow,
        ),
        rule(
            "refund-big",
            10,
            Subject::Role(Role::Operator),
            tool("payments", "refund"),
            vec![when("$.amount_cents", range(Some(json!(10_000)), None))],
            Effect::RequireApproval(ApprovalRequirement {
                approvers: vec![
                    Approver::Principal(principal("user/cfo")),
                    Approver::Principal(principal("user/ceo")),
                ],
                quorum: 2,
                expiry_ms: 3_600_000,
                on_expiry: OnExpiry::Fail,
            }),
        ),
        rule(
            "admin-fallback",
            -10,
            Subject::Role(Role::Admin),
            Target::Any,
            vec![],
            Effect::Allow,
        ),
        rule(
            "deny-shell",
            50,
            Subject::Any,
            Target::Server(server("shell")),
            vec![],
            Effect::Deny,
        ),
        rule(
            "agent-shell-block",
            50,
            Subject::Principal(principal("agent/acme/researcher")),
            Target::Server(server("shell")),
            vec![],
            Effect::Deny,
        ),
    ];
    PolicySet { rules }
}

struct Callers {
    researcher: Caller,
    operator: Caller,
    ci: Caller,
    admin: Caller,
}

fn callers() -> Callers {
    Callers {
        researcher: Caller::new("researcher", "user/alice", &[Role::Viewer]),
        operator: Caller::new("clerk", "user/bob", &[Role::Operator]),
        ci: Caller::new("builder", "service/ci", &[]),
        admin: Caller::new("clerk", "user/root", &[Role::Admin, Role::Operator]),
    }
}

/// (caller, server/tool, arguments, expected effect, expected deciding rule).
type Row<'c> = (
    &'c Caller,
    &'static str,
    Value,
    &'static str,
    Option<&'static str>,
);

#[rustfmt::skip]
fn rows(c: &Callers) -> Vec<Row<'_>> {
    let (researcher, operator, ci, admin) = (&c.researcher, &c.operator, &c.ci, &c.admin);
    let read = |path: Value, max_bytes: Value| json!({"path": path, "mode": "read", "max_bytes": max_bytes});
    vec![
        // Target::Tool with no conditions, Subject::Any.
        (researcher, "time/get_current_time", json!({}), "allow", Some("allow-time")),
        (operator, "time/get_current_time", json!({}), "allow", Some("allow-time")),
        // Subject::Agent, Target::Server, Prefix, OneOf and Range together.
        (researcher, "fs/read_file", read(json!("/data/a.csv"), json!(4096)), "allow", Some("fs-reads")),
        (researcher, "fs/stat", json!({"path": "/data/a", "mode": "stat", "max_bytes": 0}), "allow", Some("fs-reads")),
        // Equal priority: the deny beats the allow, though its id sorts after it.
        (researcher, "fs/read_file", read(json!("/data/secret.txt"), json!(1)), "deny", Some("no-secrets")),
        (researcher, "fs/read_file", read(json!("/data/app/.env"), json!(1)), "deny", Some("no-secrets")),
        // The regex matches anywhere, but `.env` is anchored at the end.
        (researcher, "fs/read_file", read(json!("/data/.envrc"), json!(1)), "allow", Some("fs-reads")),
        // Prefix, OneOf and Range failing fall through to the default deny.
        (researcher, "fs/read_file", read(json!("/etc/passwd"), json!(1)), "deny", None),
        (researcher, "fs/write_file", json!({"path": "/data/a", "mode": "write", "max_bytes": 1}), "deny", None),
        (researcher, "fs/read_file", read(json!("/data/a.csv"), json!(2_000_000)), "deny", None),
        (researcher, "fs/read_file", json!({"path": "/data/a.csv", "mode": "read"}), "deny", None),
        // Another agent is not the rule's subject.
        (operator, "fs/read_file", read(json!("/data/a.csv"), json!(1)), "deny", None),
        // Broken conditions deny with the rule's id.
        (researcher, "fs/read_file", read(json!("/data/a.csv"), json!("all")), "deny", Some("fs-reads")),
        // Both fs rules are broken by a numeric path: the lower id decides.
        (researcher, "fs/read_file", read(json!(42), json!(1)), "deny", Some("fs-reads")),
        // Subject::Principal through the submitter, Equals.
        (ci, "github/create_issue", json!({"repo": "acme/warden"}), "allow", Some("ci-github")),
        (ci, "github/create_issue", json!({"repo": "acme/other"}), "deny", None),
        (researcher, "github/create_issue", json!({"repo": "acme/warden"}), "deny", None),
        // Higher priority decides first.
        (ci, "github/push", json!({"repo": "acme/warden", "options": {"force": true}}), "approval", Some("github-force-push")),
        (ci, "github/push", json!({"repo": "acme/warden", "options": {"force": false}}), "allow", Some("ci-github")),
        (ci, "github/push", json!({"repo": "acme/warden"}), "allow", Some("ci-github")),
        (researcher, "github/push", json!({"options": {"force": true}}), "approval", Some("github-force-push")),
        // Subject::Role, Range bounds, Exists both ways.
        (operator, "payments/refund", json!({"amount_cents": 500, "ticket": "T-1"}), "allow", Some("refund-auto")),
        (operator, "payments/refund", json!({"amount_cents": 500.5, "ticket": null}), "allow", Some("refund-auto")),
        (operator, "payments/refund", json!({"amount_cents": 500}), "deny", None),
        (operator, "payments/refund", json!({"amount_cents": 500, "ticket": "T-1", "on behalf of": "carol"}), "deny", None),
        (operator, "payments/refund", json!({"amount_cents": 0, "ticket": "T-1"}), "deny", None),
        // At 10000 both refund rules match at equal priority: the approval beats the allow,
        // though its id sorts after it.
        (operator, "payments/refund", json!({"amount_cents": 10_000, "ticket": "T-1"}), "approval", Some("refund-big")),
        (operator, "payments/refund", json!({"amount_cents": 10_000.0}), "approval", Some("refund-big")),
        (operator, "payments/refund", json!({"amount_cents": 250_000}), "approval", Some("refund-big")),
        (researcher, "payments/refund", json!({"amount_cents": 500, "ticket": "T-1"}), "deny", None),
        // Both refund rules are broken by a string amount: the lower id decides.
        (operator, "payments/refund", json!({"amount_cents": "lots", "ticket": "T-1"}), "deny", Some("refund-auto")),
        // Target::Any at low priority: admins get anything no other rule decides.
        (admin, "payments/charge", json!({}), "allow", Some("admin-fallback")),
        (admin, "payments/refund", json!({"amount_cents": 250_000}), "approval", Some("refund-big")),
        (admin, "fs/read_file", read(json!("/data/secret.txt"), json!(1)), "deny", Some("no-secrets")),
        (admin, "fs/read_file", read(json!("/etc/passwd"), json!(1)), "allow", Some("admin-fallback")),
        // Equal priority and effect: the lowest id decides; Subject::Principal through
        // the agent's own principal.
        (researcher, "shell/exec", json!({"cmd": "ls"}), "deny", Some("agent-shell-block")),
        (operator, "shell/exec", json!({"cmd": "ls"}), "deny", Some("deny-shell")),
        (admin, "shell/exec", json!({}), "deny", Some("deny-shell")),
        // Default deny.
        (researcher, "unknown/tool", json!({}), "deny", None),
        (ci, "time/set_time", json!({}), "deny", None),
    ]
}

fn check_matrix(policy: &PolicySet, label: &str) {
    let callers = callers();
    for (caller, target, arguments, effect, rule) in rows(&callers) {
        let decision = caller.call(policy, target, &arguments);
        assert_eq!(
            (
                effect_kind(&decision.effect),
                decision.rule.as_ref().map(RuleId::as_str)
            ),
            (effect, rule),
            "{label}: agent {} for {} calling {target} with {arguments}: {}",
            caller.agent,
            caller.submitter,
            decision.reason
        );
        // A rule that holds applies its own effect, approval requirement included.
        if let Some(id) = &decision.rule
            && !decision.reason.contains("cannot evaluate")
        {
            let deciding = policy
                .rules
                .iter()
                .find(|r| &r.id == id)
                .expect("deciding rule exists");
            assert_eq!(
                decision.effect, deciding.effect,
                "{label}: {target} {arguments}"
            );
        }
    }
}

#[test]
fn the_matrix_policy_is_valid() {
    assert_eq!(workspace_policy().validate(), Ok(()));
}

#[test]
fn matrix_decisions() {
    check_matrix(&workspace_policy(), "stored order");
}

#[test]
fn matrix_decisions_do_not_depend_on_storage_order() {
    let mut policy = workspace_policy();
    policy.rules.reverse();
    check_matrix(&policy, "reversed");
    for shift in 1..policy.rules.len() {
        let mut rotated = workspace_policy();
        rotated.rules.rotate_left(shift);
        check_matrix(&rotated, &format!("rotated by {shift}"));
    }
}

#[test]
fn reasons_read_as_audit_sentences() {
    let policy = workspace_policy();
    let c = callers();
    let cases = [
        (
            c.researcher
                .call(&policy, "time/get_current_time", &json!({})),
            r#"rule "allow-time" allows time/get_current_time"#,
        ),
        (
            c.researcher.call(&policy, "shell/exec", &json!({})),
            r#"rule "agent-shell-block" denies shell/exec"#,
        ),
        (
            c.ci.call(&policy, "github/push", &json!({"options": {"force": true}})),
            r#"rule "github-force-push" requires approval by role approver (quorum 1, expires in 10m)"#,
        ),
        (
            c.operator
                .call(&policy, "payments/refund", &json!({"amount_cents": 20_000})),
            r#"rule "refund-big" requires approval by principal user/cfo or principal user/ceo (quorum 2, expires in 1h)"#,
        ),
        (
            c.researcher.call(&policy, "unknown/tool", &json!({})),
            "no policy rule allows unknown/tool for agent researcher",
        ),
        (
            c.researcher.call(
                &policy,
                "fs/read_file",
                &json!({"path": "/data/a", "mode": "read", "max_bytes": "all"}),
            ),
            r#"rule "fs-reads" denies fs/read_file: cannot evaluate conditions[2] at "$.max_bytes": test.range needs a number, found string"#,
        ),
    ];
    for (decision, reason) in cases {
        assert_eq!(decision.reason, reason);
    }
}
