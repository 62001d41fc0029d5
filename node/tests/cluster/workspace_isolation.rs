//! Workspace isolation at the public API: a caller with a role in one workspace reaches
//! nothing in another. Every `warden.v1` method whose request names a workspace, found
//! by walking the compiled descriptors, answers such a caller NOT_FOUND, word for word
//! as it answers for a workspace that does not exist; ids from another workspace are
//! not found either.

use crate::common::isolated::{Isolated, isolated};
use crate::common::wire::{Api, call, code_of, field_value};
use crate::common::{AGENT, as_token, error_code};
use tonic::Code;
use warden_client::Consistency;

#[tokio::test]
async fn every_workspace_scoped_method_answers_a_stranger_as_if_the_workspace_did_not_exist() {
    let Isolated {
        cluster,
        admin,
        globex_task,
        alice_secret,
    } = isolated().await;
    let authorization = format!("Bearer {alice_secret}");
    let channel = crate::common::raw_channel(&cluster, 1).await;

    let api = Api::load();
    let mut walked = Vec::new();
    for method in api
        .methods
        .iter()
        .filter(|method| api.is_workspace_scoped(method))
    {
        let value = |field: &str| field_value(&globex_task.id, &method.path, field);
        let mut answers = Vec::new();
        for workspace in ["globex", "initech", "acme"] {
            let body = api.request(&method.input, workspace, &value);
            let answer = call(&channel, method, body, Some(&authorization)).await;
            let text = match &answer {
                Ok(()) => String::new(),
                Err(status) => status.message().replace(workspace, "<workspace>"),
            };
            answers.push((workspace, code_of(&answer), text));
        }
        let [
            (_, in_globex, globex_text),
            (_, in_initech, initech_text),
            (_, in_acme, acme_text),
        ] = &answers[..]
        else {
            unreachable!("three workspaces were asked")
        };
        assert_eq!(
            *in_globex,
            Code::NotFound,
            "{} let alice into globex: {globex_text}",
            method.path
        );
        assert_eq!(
            (in_globex, globex_text),
            (in_initech, initech_text),
            "{} tells globex, which exists, from initech, which does not",
            method.path
        );
        // The same request where alice holds a role gets past the workspace check (to
        // success, a missing id or a missing permission): the walk's requests really
        // are refused for their workspace, not for their shape.
        assert_ne!(
            (in_acme, acme_text),
            (in_globex, globex_text),
            "{} refuses alice in acme as it refuses her in globex",
            method.path
        );
        println!("{}: in acme {in_acme:?} {acme_text:?}", method.path);
        walked.push(method.path.clone());
    }
    assert!(
        walked.len() >= 24,
        "the walk found only {} workspace-scoped methods: {walked:?}",
        walked.len()
    );

    // Nothing alice sent changed globex.
    let untouched = admin
        .get_task("globex", &globex_task.id, Consistency::Linearizable)
        .await
        .expect("the admin reads the globex task")
        .task
        .expect("a task");
    assert_eq!(untouched.status, globex_task.status, "{untouched:?}");
    let agents = admin.list_agents("globex").await.expect("globex agents");
    assert_eq!(agents.agents.len(), 1, "{agents:?}");
    assert!(
        admin
            .list_role_bindings(Some("globex"))
            .await
            .expect("globex bindings")
            .iter()
            .all(|binding| binding.principal != "user/alice"),
        "alice bound herself a role in globex"
    );
}

#[tokio::test]
async fn a_role_in_one_workspace_reaches_nothing_in_another() {
    let Isolated {
        cluster: _cluster,
        admin,
        globex_task,
        alice_secret,
    } = isolated().await;
    let alice = as_token(&admin, &alice_secret);
    // Alice's token and role work where she holds it.
    let acme_task = alice
        .submit_task("acme", AGENT, "acme work", None)
        .await
        .expect("alice submits in acme")
        .response
        .task
        .expect("a task");
    alice
        .get_task("acme", &acme_task.id, Consistency::Linearizable)
        .await
        .expect("alice reads her task in acme");
    alice
        .list_agents("acme")
        .await
        .expect("alice lists acme's agents");

    // In globex she holds no role: every call answers as if globex did not exist, with
    // the same message as for a workspace that really does not.
    let id = globex_task.id.as_str();
    let mut answers = Vec::new();
    for workspace in ["globex", "initech"] {
        let outcomes: Vec<(&str, Result<(), warden_client::Error>)> = vec![
            (
                "get_task",
                alice
                    .get_task(workspace, id, Consistency::Linearizable)
                    .await
                    .map(drop),
            ),
            (
                "list_tasks",
                alice
                    .list_tasks(workspace, 100, "", Consistency::Linearizable)
                    .await
                    .map(drop),
            ),
            ("list_agents", alice.list_agents(workspace).await.map(drop)),
            (
                "submit_task",
                alice
                    .submit_task(workspace, AGENT, "trespass", None)
                    .await
                    .map(drop),
            ),
            (
                "cancel_task",
                alice.cancel_task(workspace, id, "trespass").await.map(drop),
            ),
        ];
        for (call, outcome) in outcomes {
            let error = outcome.expect_err(&format!("alice's {call} in {workspace}"));
            assert_eq!(
                error.code(),
                Some(Code::NotFound),
                "alice's {call} in {workspace}: {error}"
            );
            let message = error.to_string().replace(workspace, "<workspace>");
            answers.push((workspace, call, message));
        }
    }
    let (globex, initech) = answers.split_at(answers.len() / 2);
    for ((_, call, in_globex), (_, _, in_initech)) in globex.iter().zip(initech) {
        assert_eq!(
            in_globex, in_initech,
            "alice's {call} tells globex, which exists, from a workspace that does not"
        );
    }
    // Naming the globex task under acme, where she may operate, finds nothing either.
    assert_eq!(
        error_code(alice.get_task("acme", id, Consistency::Linearizable).await),
        Code::NotFound
    );
    assert_eq!(
        error_code(alice.cancel_task("acme", id, "trespass").await),
        Code::NotFound
    );
    let untouched = admin
        .get_task("globex", id, Consistency::Linearizable)
        .await
        .expect("the admin reads the globex task")
        .task
        .expect("a task");
    assert_eq!(untouched.status, globex_task.status, "{untouched:?}");

    // A viewer in acme reads but may not submit.
    let viewer = admin
        .create_token("user/victor", "viewer in acme", 0)
        .await
        .expect("create victor's token");
    admin
        .set_roles(Some("acme"), "user/victor", &["viewer"])
        .await
        .expect("make victor a viewer in acme");
    let viewer = as_token(&admin, &viewer.secret);
    viewer
        .list_tasks("acme", 100, "", Consistency::Linearizable)
        .await
        .expect("a viewer lists acme's tasks");
    assert_eq!(
        error_code(viewer.submit_task("acme", AGENT, "look only", None).await),
        Code::PermissionDenied
    );

    // Cluster-wide actions need a cluster role, which alice does not have.
    assert_eq!(
        error_code(alice.create_workspace("initech").await),
        Code::PermissionDenied
    );
    assert_eq!(
        error_code(alice.create_token("user/mallory", "by alice", 0).await),
        Code::PermissionDenied
    );
    let names: Vec<String> = alice
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("alice lists workspaces")
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert_eq!(names, ["acme"]);
    let all: Vec<String> = admin
        .list_workspaces(Consistency::Linearizable)
        .await
        .expect("the admin lists workspaces")
        .workspaces
        .into_iter()
        .map(|workspace| workspace.name)
        .collect();
    assert_eq!(all, ["acme", "globex"]);
}
