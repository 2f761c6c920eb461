//! Test helpers for runs: the agent's run endpoints and the reviewer's
//! run server functions.

use crate::common::{Browser, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

impl TestApp {
    /// `POST /api/v1/runs/{run}/events` as the agent.
    pub async fn run_event(&self, key: &str, run: &str, body: Value) -> Response {
        self.http
            .post(format!("{}/api/v1/runs/{run}/events", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Records an event and returns the 201 body.
    pub async fn run_event_ok(&self, key: &str, run: &str, body: Value) -> Value {
        let res = self.run_event(key, run, body).await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// Submits `capability` as part of run `run`; returns the 201 body.
    pub async fn submit_in_run(&self, key: &str, run: &str, capability: &str) -> Value {
        let res = self
            .submit(
                key,
                json!({"capability": capability, "target": "customer-42",
                       "summary": "test action", "run_id": run}),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// `GET /api/v1/runs/{run}` as the agent.
    pub async fn get_run(&self, key: &str, run: &str) -> Response {
        self.http
            .get(format!("{}/api/v1/runs/{run}", self.base))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `GET /api/v1/runs/{run}/events/{id}` as the agent.
    pub async fn get_run_event(
        &self,
        key: &str,
        run: &str,
        id: &str,
        wait: Option<u64>,
    ) -> Response {
        let mut url = format!("{}/api/v1/runs/{run}/events/{id}", self.base);
        if let Some(w) = wait {
            url.push_str(&format!("?wait={w}"));
        }
        self.http.get(url).bearer_auth(key).send().await.unwrap()
    }

    /// Belay's id of the agent's run `run`.
    pub async fn run_id_of(&self, agent_id: &str, run: &str) -> String {
        use sqlx::Row;
        sqlx::query("SELECT id FROM runs WHERE agent_id = $1 AND run_key = $2")
            .bind(agent_id)
            .bind(run)
            .fetch_one(&self.db)
            .await
            .unwrap()
            .try_get("id")
            .unwrap()
    }
}

impl Browser {
    /// The run page's data (`from`: where its timeline page starts).
    pub async fn run_page(&self, id: &str, from: Option<i64>) -> Response {
        let from = from.map(|f| f.to_string());
        let mut form = vec![("id", id)];
        if let Some(f) = from.as_deref() {
            form.push(("from", f));
        }
        self.rpc("runs/get", &form).await
    }

    pub async fn answer(&self, id: &str, answer: &str) -> Response {
        self.rpc("runs/answer", &[("id", id), ("answer", answer)])
            .await
    }

    pub async fn escalations(&self) -> Value {
        let res = self.rpc("runs/escalations", &[]).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    pub async fn agent_runs(&self, agent_id: &str) -> Value {
        let res = self.rpc("runs/of-agent", &[("agent_id", agent_id)]).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

/// The kinds of a run page's steps, in order (`Event` steps by their kind).
pub fn step_kinds(page: &Value) -> Vec<String> {
    page["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (name, body) = s["what"].as_object().unwrap().iter().next().unwrap();
            match body["kind"].as_str() {
                Some(kind) if name == "Event" => kind.to_string(),
                _ => name.clone(),
            }
        })
        .collect()
}
