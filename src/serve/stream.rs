//! `GET /api/stream`: server-sent events. Each `state` event carries the tasks and approvals
//! (as `/api/tasks` and `/api/approvals` give them): one when the stream opens, then one each
//! time the log moves. The stream ends when the server stops, so a graceful shutdown does not
//! wait for open pages.

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::AppState;
use super::api::snapshot;

pub(super) async fn stream(State(app): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let changes = app.shared.subscribe();
    let events = futures_util::stream::unfold((app, changes, true), |(app, mut changes, first)| async move {
        if !first {
            tokio::select! {
                changed = changes.changed() => changed.ok()?,
                () = app.cancel.cancelled() => return None,
            }
        }
        changes.borrow_and_update();
        let data = snapshot(&app.shared).to_string();
        let event = Event::default().event("state").data(data);
        Some((Ok(event), (app, changes, false)))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
