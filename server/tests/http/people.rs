//! Admins manage people; everyone changes their own password. Every change
//! is audited, and none leaves Belay without an active admin.

use crate::common::{TestApp, PASSWORD};
use crate::promotion::ok;
use app::auth::Role;
use serde_json::Value;

async fn sign_in(app: &TestApp, username: &str, password: &str) -> u16 {
    app.anonymous_browser()
        .rpc(
            "login",
            &[("username", username), ("password", password), ("next", "")],
        )
        .await
        .status()
        .as_u16()
}

async fn id_of(people: &Value, username: &str) -> String {
    people
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["username"] == username)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_deactivate_reactivate_change_roles_and_reset_passwords() {
    let app = TestApp::spawn().await;
    app.user("ada", Role::Admin).await;
    app.user("rita", Role::Reviewer).await;
    let ada = app.browser("ada").await;
    let rita = app.browser("rita").await;
    assert_eq!(rita.rpc("people/list", &[]).await.status(), 403);
    let people = ok(ada.rpc("people/list", &[]).await).await;
    let (ada_id, rita_id) = (id_of(&people, "ada").await, id_of(&people, "rita").await);

    // Deactivated: the open session ends at once, and signing in is refused.
    ok(ada
        .rpc("people/set_active", &[("id", &rita_id), ("active", "off")])
        .await)
    .await;
    assert_eq!(ok(rita.rpc("me", &[]).await).await, Value::Null);
    assert_eq!(sign_in(&app, "rita", PASSWORD).await, 401);
    assert_eq!(app.audit_count("user.deactivated", &rita_id).await, 1);
    ok(ada
        .rpc("people/set_active", &[("id", &rita_id), ("active", "on")])
        .await)
    .await;
    assert_eq!(sign_in(&app, "rita", PASSWORD).await, 200);

    // A role change applies to the very next request.
    ok(ada
        .rpc("people/set_role", &[("id", &rita_id), ("role", "lead")])
        .await)
    .await;
    let rita = app.browser("rita").await;
    assert_eq!(ok(rita.rpc("me", &[]).await).await["role"], "lead");
    assert_eq!(app.audit_count("user.role_changed", &rita_id).await, 1);

    // Never without an admin; never yourself.
    let res = ada
        .rpc("people/set_role", &[("id", &ada_id), ("role", "lead")])
        .await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains("no active admin"));
    assert_eq!(
        ada.rpc("people/set_active", &[("id", &ada_id), ("active", "off")])
            .await
            .status(),
        422
    );

    // A reset password is shown once; the old one, and every session signed
    // in with it, stop working.
    let before_reset = app.browser("rita").await;
    let secret = ok(ada.rpc("people/reset_password", &[("id", &rita_id)]).await).await;
    assert_eq!(ok(before_reset.rpc("me", &[]).await).await, Value::Null);
    let secret = secret.as_str().unwrap().to_string();
    assert_eq!(sign_in(&app, "rita", PASSWORD).await, 401);
    assert_eq!(sign_in(&app, "rita", &secret).await, 200);
    assert_eq!(app.audit_count("user.password_reset", &rita_id).await, 1);
    // Your own goes through the account page, with the current password.
    assert_eq!(
        ada.rpc("people/reset_password", &[("id", &ada_id)])
            .await
            .status(),
        422
    );
    assert!(app
        .count_text("SELECT password_hash FROM users WHERE username = 'rita'")
        .await
        .starts_with("$argon2id$"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anyone_changes_their_own_password_knowing_the_current_one() {
    let app = TestApp::spawn().await;
    app.user("rita", Role::Reviewer).await;
    let rita = app.browser("rita").await;
    let change = |current: &'static str, new: &'static str| [("current", current), ("new", new)];
    assert_eq!(
        rita.rpc(
            "account/change_password",
            &change("wrong password!", "a brand new secret")
        )
        .await
        .status(),
        403
    );
    assert_eq!(
        rita.rpc("account/change_password", &change(PASSWORD, "short"))
            .await
            .status(),
        422
    );
    let elsewhere = app.browser("rita").await;
    ok(rita
        .rpc(
            "account/change_password",
            &change(PASSWORD, "a brand new secret"),
        )
        .await)
    .await;
    // This session goes on; the others end with the old password.
    assert_eq!(ok(rita.rpc("me", &[]).await).await["username"], "rita");
    assert_eq!(ok(elsewhere.rpc("me", &[]).await).await, Value::Null);
    assert_eq!(sign_in(&app, "rita", PASSWORD).await, 401);
    assert_eq!(sign_in(&app, "rita", "a brand new secret").await, 200);
    assert_eq!(
        app.anonymous_browser()
            .rpc("account/change_password", &change(PASSWORD, "xxxxxxxxxxxx"))
            .await
            .status(),
        401
    );
}

#[test]
fn the_operator_manages_people_from_the_shell_too() {
    use crate::cli::{belay, text};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/belay.db", dir.path().display());
    for (name, role) in [("ada", "admin"), ("rita", "reviewer")] {
        let out = belay(
            &db,
            &["user", "create", "--username", name, "--role", role],
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    let run = |args: &[&str]| {
        let out = belay(&db, args, None);
        (out.status.success(), text(&out))
    };
    let (ok, said) = run(&["user", "deactivate", "--username", "rita"]);
    assert!(ok && said.contains("sessions have ended"), "{said}");
    let (ok, said) = run(&["user", "reactivate", "--username", "rita"]);
    assert!(ok, "{said}");
    let (ok, said) = run(&["user", "set-role", "--username", "rita", "--role", "lead"]);
    assert!(ok && said.contains("is now lead"), "{said}");
    let (ok, said) = run(&["user", "set-role", "--username", "ada", "--role", "lead"]);
    assert!(!ok && said.contains("no active admin"), "{said}");
    let (ok, said) = run(&["user", "reset-password", "--username", "rita"]);
    assert!(ok && said.contains("shown once"), "{said}");
    let (ok, said) = run(&["user", "deactivate", "--username", "nobody"]);
    assert!(!ok && said.contains("no person named"), "{said}");
    let (_, trail) = run(&["audit", "export"]);
    let deactivated = trail
        .lines()
        .find(|l| l.contains("user.deactivated"))
        .unwrap_or_default();
    assert!(
        deactivated.contains(r#""actor_id":"operator:"#),
        "{deactivated}"
    );
}
