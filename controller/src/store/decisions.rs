//! Which vouchers agents' events just moved (applied, failed, removed), told to whoever waits
//! for them the moment the events commit: a generate call answers as confirmations land, not at
//! a polling step.
//!
//! The event handler notes each code while it applies, inside the transaction; the link calls
//! `committed` on the same thread right after that transaction ends (`offer_batch` is
//! synchronous), so the notes live in a thread-local and one batch's notes can never be
//! published by another peer's commit. A rolled-back batch publishes its codes too: a waiter
//! reads them again and finds them unchanged, which costs a read and nothing else. A waiter that
//! lagged behind the channel reads all it waits for.

use std::cell::RefCell;
use std::sync::Arc;

use tokio::sync::broadcast;

/// Codes decided by one committed batch of events.
pub type Decided = Arc<[String]>;

/// Batches a slow waiter may fall behind before it is told it lagged.
const BACKLOG: usize = 1024;

thread_local! {
    static NOTED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The channel of decided codes. Cheap to clone; clones share it.
#[derive(Clone, Debug)]
pub struct Decisions {
    sender: broadcast::Sender<Decided>,
}

impl Default for Decisions {
    fn default() -> Self {
        Decisions {
            sender: broadcast::channel(BACKLOG).0,
        }
    }
}

impl Decisions {
    /// Every batch decided from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Decided> {
        self.sender.subscribe()
    }

    /// Notes `code`, from inside the transaction that moves it.
    pub(crate) fn note(code: &str) {
        NOTED.with(|noted| noted.borrow_mut().push(code.to_owned()));
    }

    /// Publishes what this thread noted since, after its transaction ended.
    pub(crate) fn publish(&self) {
        let noted = NOTED.with(|noted| std::mem::take(&mut *noted.borrow_mut()));
        if !noted.is_empty() {
            // No receiver is no error: nobody waits.
            let _ = self.sender.send(noted.into());
        }
    }

    /// Drops what this thread noted (a transaction outside the link, which never publishes).
    pub(crate) fn discard() {
        NOTED.with(|noted| noted.borrow_mut().clear());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_published_once_by_the_thread_that_made_them() {
        let decisions = Decisions::default();
        let mut rx = decisions.subscribe();
        Decisions::note("AAA");
        // Another thread's commit publishes nothing of this thread's notes.
        let other = decisions.clone();
        std::thread::spawn(move || other.publish())
            .join()
            .expect("thread");
        assert!(rx.try_recv().is_err());
        Decisions::note("BBB");
        decisions.publish();
        let got = rx.try_recv().expect("a batch");
        assert_eq!(&*got, &["AAA".to_owned(), "BBB".to_owned()]);
        decisions.publish();
        assert!(rx.try_recv().is_err(), "published twice");
    }

    #[test]
    fn discarded_notes_are_never_published() {
        let decisions = Decisions::default();
        let mut rx = decisions.subscribe();
        Decisions::note("CCC");
        Decisions::discard();
        decisions.publish();
        assert!(rx.try_recv().is_err());
    }
}
