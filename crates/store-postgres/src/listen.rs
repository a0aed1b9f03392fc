//! Announcements between the nodes sharing the database: each store NOTIFYs the
//! cluster's channel of a change other nodes must hear of, in the change's own
//! transaction for access control, secrets and definitions (delivered exactly when
//! it commits), after commit for wake-ups (see [`crate::wakeups`]), and LISTENs on a
//! connection of its own. A lost connection is re-opened with a growing pause; once it listens again,
//! a [`Change::Resync`] tells the node to reload what it may have missed.

use std::time::Duration;

use futures_util::future::poll_fn;
use podium_core::store::{Change, StoreResult};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{oneshot, watch};
use tokio_postgres::AsyncMessage;

use crate::connect::Settings;
use crate::map_err;

/// The statement that announces a change on a channel (its payload from [`payload`]).
pub(crate) const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// The longest queue name announced as itself; a longer one (domains and task names
/// are the caller's) is announced as [`Change::AnyQueue`]. PostgreSQL refuses a
/// notification of 8000 bytes or more, and a refused one fails its transaction.
const ANNOUNCED_NAME_MAX: usize = 1000;

/// A notification's text: `<node>|<kind>|<argument>`.
pub(crate) fn payload(node: &str, change: &Change) -> String {
    match change {
        Change::Queue(name) if name.len() > ANNOUNCED_NAME_MAX => format!("{node}|any-queue|"),
        Change::Queue(name) => format!("{node}|queue|{name}"),
        Change::AnyQueue => format!("{node}|any-queue|"),
        Change::Workflow(id) => format!("{node}|workflow|{id}"),
        Change::Security => format!("{node}|security|"),
        Change::Secrets => format!("{node}|secrets|"),
        Change::Definitions => format!("{node}|definitions|"),
        Change::Resync => format!("{node}|resync|"),
    }
}

/// The change a notification announces, unless it is this node's own queue wake-up
/// (which woke this node's polls already). Reloads are taken from this node's own
/// announcements too: they arrive after the commit, so a reload that raced the
/// change here is always followed by one that sees it.
fn parse(own: &str, text: &str) -> Option<Change> {
    let mut parts = text.splitn(3, '|');
    let (node, kind, argument) = (parts.next()?, parts.next()?, parts.next()?);
    match kind {
        "queue" if node != own => Some(Change::Queue(argument.to_string())),
        "workflow" if node != own => Some(Change::Workflow(argument.to_string())),
        "any-queue" if node != own => Some(Change::AnyQueue),
        "queue" | "any-queue" | "workflow" => None,
        "security" => Some(Change::Security),
        "secrets" => Some(Change::Secrets),
        "definitions" => Some(Change::Definitions),
        "resync" => Some(Change::Resync),
        _ => None,
    }
}

/// Longest pause between attempts to listen again.
const MOST_PAUSE: Duration = Duration::from_secs(2);

/// Starts listening; returns once the first LISTEN is in place (so nothing
/// announced after the store opened is missed) with the receiver of changes.
pub(crate) async fn start(
    settings: &Settings,
    channel: String,
    node: String,
    closed: watch::Receiver<bool>,
) -> StoreResult<UnboundedReceiver<Change>> {
    let (changes, received) = unbounded_channel();
    let (listening, first) = oneshot::channel();
    let config = settings.config.clone();
    let tls = settings.tls.clone();
    tokio::spawn(async move {
        let mut listening = Some(listening);
        let mut pause = Duration::from_millis(100);
        let mut closed = closed;
        loop {
            let outcome = listen_once(
                &config,
                &tls,
                &channel,
                &node,
                &changes,
                &mut listening,
                &mut closed,
            )
            .await;
            if *closed.borrow() || changes.is_closed() {
                return;
            }
            if let Err(err) = outcome {
                if let Some(first) = listening.take() {
                    let _ = first.send(Err(err));
                    return;
                }
                tracing::warn!(error = %podium_core::error::error_chain(&err), "cannot listen for other nodes' changes; trying again");
            } else {
                pause = Duration::from_millis(100);
                tracing::warn!("lost the connection that hears other nodes' changes; reconnecting");
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = closed.changed() => return,
            }
            pause = (pause * 2).min(MOST_PAUSE);
        }
    });
    match first.await {
        Ok(Ok(())) => Ok(received),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(podium_core::store::StoreError::Unavailable(
            crate::UNAVAILABLE.to_string(),
        )),
    }
}

/// Listens on one connection until it ends (Ok) or cannot be set up (Err).
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &tokio_postgres_rustls::MakeRustlsConnect,
    channel: &str,
    node: &str,
    changes: &UnboundedSender<Change>,
    first: &mut Option<oneshot::Sender<StoreResult<()>>>,
    closed: &mut watch::Receiver<bool>,
) -> StoreResult<()> {
    let (client, mut connection) = config.connect(tls.clone()).await.map_err(map_err)?;
    let (heard, mut notifications) = unbounded_channel();
    // The connection delivers notifications only while it is polled.
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(note)) => {
                    if heard.send(note.payload().to_string()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "the connection that hears other nodes' changes failed");
                    return;
                }
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN \"{}\"", channel.replace('"', "\"\"")))
        .await
        .map_err(map_err)?;
    match first.take() {
        Some(first) => {
            let _ = first.send(Ok(()));
        }
        // Listening again: what was announced meanwhile is not known.
        None => {
            tracing::info!(
                "listening for other nodes' changes again; reloading what may have been missed"
            );
            let _ = changes.send(Change::Resync);
        }
    }
    loop {
        tokio::select! {
            note = notifications.recv() => match note {
                Some(text) => {
                    if let Some(change) = parse(node, &text)
                        && changes.send(change).is_err()
                    {
                        break;
                    }
                }
                None => break,
            },
            _ = closed.changed() => break,
        }
    }
    driver.abort();
    drop(client);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_own_queue_wake_ups_are_skipped() {
        for change in [
            Change::Queue("dom:task|odd".into()),
            Change::Workflow("0190-wf".into()),
            Change::AnyQueue,
            Change::Security,
            Change::Secrets,
            Change::Definitions,
            Change::Resync,
        ] {
            assert_eq!(
                parse("other", &payload("node-a", &change)),
                Some(change.clone())
            );
        }
        assert_eq!(
            parse("node-a", &payload("node-a", &Change::Queue("q".into()))),
            None
        );
        assert_eq!(
            parse("node-a", &payload("node-a", &Change::Security)),
            Some(Change::Security)
        );
        // A queue name too long for a notification wakes every queue instead; the
        // text stays far below PostgreSQL's bound of 8000 bytes.
        let long = Change::Queue(format!("{}:task", "d".repeat(9000)));
        let text = payload("node-a", &long);
        assert!(text.len() < 100, "{}", text.len());
        assert_eq!(parse("other", &text), Some(Change::AnyQueue));
        assert_eq!(parse("node-a", &text), None);
        assert_eq!(parse("x", "garbage"), None);
        assert_eq!(parse("x", "n|unknown|"), None);
    }
}
