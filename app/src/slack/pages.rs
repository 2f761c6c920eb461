//! `/slack` for admins (where held requests are posted), and the Slack
//! section of `/account` (linking one's own Slack user).

use super::{my_slack_link, slack_settings, Route, SetSlackRoute, StartSlackLink, UnlinkSlack};
use crate::local_time::TimeText;
use crate::policy::RuleKey;
use crate::ui::ErrorNote;
use leptos::prelude::*;

#[component]
pub fn SlackPage() -> impl IntoView {
    let set = ServerAction::<SetSlackRoute>::new();
    let settings = Resource::new(move || set.version().get(), |_| slack_settings());
    view! {
        <h1>"Slack"</h1>
        <p class="muted">
            "A request held for approval is posted to a Slack channel with Approve and Reject buttons; "
            "its message says how it ended, wherever it was decided. A capability's channel comes first, "
            "then the channel for the riskiest reason it was held, then the default; with no channel, "
            "nothing is posted. Only people who linked their Slack user (on Your account) can decide there."
        </p>
        {move || set.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => view! {
                        {(!s.configured).then(|| view! {
                            <p class="error" data-testid="slack-off">
                                "This server was started without a Slack app (--slack-signing-secret-env/-file, "
                                "--slack-bot-token-env/-file): nothing is posted until it is."
                            </p>
                        })}
                        <RouteTable routes=s.routes set/>
                        <section class="card">
                            <h2>"Add or change a channel"</h2>
                            <RouteForm set/>
                        </section>
                        {(!s.troubled.is_empty()).then(|| view! {
                            <section class="card">
                                <h2>"Not yet in Slack"</h2>
                                <table class="table" data-testid="slack-troubled">
                                    <thead><tr><th>"Request"</th><th>"Attempts"</th><th>"Last error"</th></tr></thead>
                                    <tbody>
                                        {s.troubled.into_iter().map(|(id, attempts, error)| view! {
                                            <tr>
                                                <td><a href=format!("/approvals/{id}")>{id.clone()}</a></td>
                                                <td>{attempts}</td>
                                                <td>{error}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                        })}
                    }.into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RouteTable(routes: Vec<Route>, set: ServerAction<SetSlackRoute>) -> impl IntoView {
    if routes.is_empty() {
        return view! { <p class="muted">"No channels yet."</p> }.into_any();
    }
    view! {
        <table class="table" data-testid="slack-routes">
            <thead><tr><th>"Requests"</th><th>"Channel"</th><th></th></tr></thead>
            <tbody>
                {routes.into_iter().map(|r| {
                    let what = match r.kind.as_str() {
                        "capability" => format!("capability {}", r.key),
                        "held_for" => format!("held for {}", r.key),
                        _ => "everything else".to_string(),
                    };
                    view! {
                        <tr>
                            <td>{what}</td>
                            <td><code>{r.channel.clone()}</code></td>
                            <td>
                                <ActionForm action=set attr:class="form inline">
                                    <input type="hidden" name="kind" value=r.kind.clone()/>
                                    <input type="hidden" name="key" value=r.key.clone()/>
                                    <input type="hidden" name="channel" value=""/>
                                    <button type="submit" class="secondary">"Remove"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn RouteForm(set: ServerAction<SetSlackRoute>) -> impl IntoView {
    view! {
        <ActionForm action=set attr:class="form">
            <label>
                "Requests"
                <select name="kind">
                    <option value="default">"everything else (the default)"</option>
                    <option value="capability">"of a capability"</option>
                    <option value="held_for">"held for a reason"</option>
                </select>
            </label>
            <label>
                "Capability or reason (empty for the default)"
                <input name="key" list="slack-reasons" placeholder="payments.refund or destructive"/>
                <datalist id="slack-reasons">
                    {RuleKey::ALL.into_iter().map(|k| view! { <option value=k.as_str()/> }).collect_view()}
                </datalist>
            </label>
            <label>"Channel" <input name="channel" required placeholder="C0123ABC or #approvals"/></label>
            <button type="submit" disabled=move || set.pending().get()>"Save channel"</button>
        </ActionForm>
    }
}

/// `/account`'s Slack section: link (a code to type into Slack) or unlink.
#[component]
pub fn SlackLinkSection() -> impl IntoView {
    let start = ServerAction::<StartSlackLink>::new();
    let unlink = ServerAction::<UnlinkSlack>::new();
    let link = Resource::new(
        move || unlink.version().get() + start.version().get(),
        |_| my_slack_link(),
    );
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match link.await {
                    Ok(link_view) if link_view.configured => view! {
                        <section class="card" data-testid="slack-link">
                            <h2>"Slack"</h2>
                            {match link_view.linked {
                                Some((team, user, at)) => view! {
                                    <p>"Linked to Slack user " <code>{user}</code> " in workspace " <code>{team}</code>
                                       " since " <TimeText text=at/> ". You can approve and reject from Slack."</p>
                                    <ActionForm action=unlink attr:class="form inline">
                                        <button type="submit" class="secondary">"Unlink Slack"</button>
                                    </ActionForm>
                                }.into_any(),
                                None => view! {
                                    <p class="muted">"Link your Slack user to approve and reject from Slack."</p>
                                    <ActionForm action=start attr:class="form inline">
                                        <button type="submit">"Link Slack"</button>
                                    </ActionForm>
                                }.into_any(),
                            }}
                        </section>
                    }.into_any(),
                    Ok(_) => ().into_any(),
                    Err(e) => view! { <ErrorNote error=e/> }.into_any(),
                }
            })}
        </Transition>
        {move || match start.value().get() {
            Some(Ok(code)) => view! {
                <div class="secret" role="status">
                    "Within ten minutes, type this in Slack (shown once): "
                    <code class="key" data-testid="slack-code">{format!("/belay link {code}")}</code>
                </div>
            }.into_any(),
            Some(Err(e)) => view! { <ErrorNote error=e/> }.into_any(),
            None => ().into_any(),
        }}
        {move || unlink.value().get().and_then(Result::err).map(|e| view! { <ErrorNote error=e/> })}
    }
}
