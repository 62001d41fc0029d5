//! The console in a real browser (headless Chromium over WebDriver): an approver signs in,
//! sees the waiting call, approves it and watches the task complete live on its page;
//! the submitter sees no approve button and their hand-made POST is refused, as is a POST
//! without the CSRF token; a task input holding `<script>` renders as text; a revoked
//! token is signed out. Screenshots of the inbox, a task page and the audit page are
//! saved as test artifacts.

use fantoccini::{Client as Browser, Locator};
use serde_json::json;
use warden_proto::v1::TaskStatus;

use crate::common::browser::{Driver, page_text, screenshot, wait_for};
use crate::common::console::{CONSOLE_ON, console_url};
use crate::console::token_with_role;
use crate::governance::{WS, payroll_put_waiting, settled};

async fn sign_in(browser: &Browser, console: &str, token: &str) {
    browser
        .goto(&format!("{console}/console/"))
        .await
        .expect("open the console");
    let field = wait_for(browser, "#token").await;
    field.send_keys(token).await.expect("type the token");
    browser
        .find(Locator::Id("sign-in"))
        .await
        .expect("the sign-in button")
        .click()
        .await
        .expect("sign in");
    wait_for(browser, "#principal").await;
}

/// POSTs `form` from the page with the browser's own `fetch` (as a user crafting a request
/// by hand would); the response status.
async fn hand_made_post(browser: &Browser, path: &str, form: serde_json::Value) -> u64 {
    let status = browser
        .execute_async(
            "const [path, form, done] = arguments;
             fetch(path, {method: 'POST', body: new URLSearchParams(form), redirect: 'manual'})
               .then((response) => done(response.status), (error) => done(String(error)));",
            vec![json!(path), form],
        )
        .await
        .expect("run fetch");
    status
        .as_u64()
        .unwrap_or_else(|| panic!("fetch failed: {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_approves_in_chromium_and_watches_the_task_complete() {
    let cluster = crate::common::start(1, &[CONSOLE_ON]).await;
    let waiting = payroll_put_waiting(&cluster, "cy", "250").await;
    let admin = &waiting.admin;
    let hostile_input =
        "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";
    let hostile = admin
        .submit_task(WS, "clerk", hostile_input, None)
        .await
        .expect("submit")
        .response
        .task
        .expect("task");
    let (approver_token, approver_id) =
        token_with_role(admin, "user/cy-approver", "approver").await;
    let admin_token = std::fs::read_to_string(cluster.admin_token_path())
        .expect("admin token")
        .trim()
        .to_owned();
    let console = console_url(&cluster, 1);
    let driver = Driver::start().await;

    // The approver signs in and lands on the inbox, which shows the waiting call.
    let approver = driver.browser("approver").await;
    sign_in(&approver, &console, &approver_token).await;
    let card = format!("#approval-{}-{}", waiting.task.id, waiting.pending.call_id);
    wait_for(&approver, &card).await;
    let text = page_text(&approver).await;
    for shown in [
        "ledger/put",
        "payroll",
        "payroll/cy",
        &waiting.pending.arguments_hash,
    ] {
        assert!(text.contains(shown), "{shown} not on the inbox:\n{text}");
    }
    screenshot(&approver, "inbox").await;

    // The submitter sees why not, and no button; their hand-made POST is refused.
    let submitter = driver.browser("submitter").await;
    sign_in(&submitter, &console, &admin_token).await;
    submitter
        .goto(&format!("{console}/console/approvals"))
        .await
        .expect("inbox");
    wait_for(&submitter, &card).await;
    let theirs = page_text(&submitter).await;
    assert!(theirs.contains("You cannot decide this call"), "{theirs}");
    assert!(
        submitter
            .find_all(Locator::Css(&format!("{card} button.approve")))
            .await
            .expect("query")
            .is_empty(),
        "the submitter is offered no approve button"
    );
    let csrf = submitter
        .find(Locator::Css("input[name=csrf]"))
        .await
        .expect("a csrf field")
        .attr("value")
        .await
        .expect("its value")
        .expect("set");
    let decision = json!({
        "workspace": WS,
        "task_id": waiting.pending.task_id,
        "call_id": waiting.pending.call_id,
        "arguments_hash": waiting.pending.arguments_hash,
        "decision": "approve",
        "reason": "mine",
        "csrf": csrf,
    });
    let forged = hand_made_post(&submitter, "/console/approvals/decide", decision.clone()).await;
    assert_eq!(forged, 403, "the submitter's own approval is refused");
    let mut no_csrf = decision.clone();
    no_csrf["csrf"] = json!("");
    let refused = hand_made_post(&approver, "/console/approvals/decide", no_csrf).await;
    assert_eq!(refused, 403, "a POST without the CSRF token is refused");

    // The approver opens the task page in a second tab, approves in the first, and
    // watches the task complete live in the second.
    let inbox_tab = approver.window().await.expect("current tab");
    let task_tab = approver.new_window(true).await.expect("a new tab").handle;
    approver
        .switch_to_window(task_tab.clone())
        .await
        .expect("switch");
    approver
        .goto(&format!(
            "{console}/console/w/{WS}/tasks/{}",
            waiting.task.id
        ))
        .await
        .expect("task page");
    wait_for(&approver, "#status.waiting_approval").await;
    wait_for(&approver, "#live").await;
    approver
        .switch_to_window(inbox_tab)
        .await
        .expect("switch back");
    approver
        .find(Locator::Css(&format!("{card} input[name=reason]")))
        .await
        .expect("reason field")
        .send_keys("payroll checked")
        .await
        .expect("type a reason");
    approver
        .find(Locator::Css(&format!("{card} button.approve")))
        .await
        .expect("approve button")
        .click()
        .await
        .expect("approve");
    wait_for(&approver, "#notice").await;
    approver
        .switch_to_window(task_tab)
        .await
        .expect("switch to the task");
    wait_for(&approver, "#status.completed").await;
    let journal = page_text(&approver).await;
    assert!(journal.contains("user/cy-approver approved"), "{journal}");
    screenshot(&approver, "task").await;
    let done = settled(admin, &waiting.task.id).await;
    assert_eq!(done.status, TaskStatus::Completed as i32);

    // Hostile input is text on the page and runs nothing.
    approver
        .goto(&format!("{console}/console/w/{WS}/tasks/{}", hostile.id))
        .await
        .expect("hostile task");
    let shown = wait_for(&approver, "#task-input")
        .await
        .text()
        .await
        .expect("text");
    assert_eq!(shown, hostile_input);
    assert_ne!(approver.title().await.expect("title"), "pwned");

    // The audit page (the chain is cluster-wide: the admin reads it) names the approver's
    // decision.
    submitter
        .goto(&format!(
            "{console}/console/audit?principal=user/cy-approver"
        ))
        .await
        .expect("audit page");
    wait_for(&submitter, "#records").await;
    let records = page_text(&submitter).await;
    assert!(records.contains("user/cy-approver"), "{records}");
    screenshot(&submitter, "audit").await;

    // A revoked token is signed out at the next request.
    admin.revoke_token(&approver_id).await.expect("revoke");
    approver
        .goto(&format!("{console}/console/approvals"))
        .await
        .expect("inbox again");
    let message = wait_for(&approver, "#message")
        .await
        .text()
        .await
        .expect("text");
    assert!(message.contains("Your session ended"), "{message}");
    assert!(message.contains("revoked"), "{message}");
    wait_for(&approver, "#token").await;

    for browser in [approver, submitter] {
        browser.close().await.expect("close the browser");
    }
}
