//! Who may cause each kind of event, read off the command table: an event a journal may carry is
//! the command it asks for (and needs that command's policy action); any other event is a fact only
//! the server records. HTTP routes and the studio's batch both go through [`crate::decide`].

use crate::decide::SessionCommand;
use crate::events::SessionEvent;
use crate::policy::Action;

/// Where an event may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A participant may cause it with this policy action.
    Client(Action),
    /// Only the server records it (from a route that has side effects, LiveKit, the worker).
    System,
}

pub fn origin(event: &SessionEvent) -> Origin {
    match SessionCommand::from_journal(event.clone()).map(|c| c.action()) {
        Ok(Some(action)) => Origin::Client(action),
        _ => Origin::System,
    }
}
