//! One line for an error and its causes, each said once.
//!
//! Our error enums often show their source in their own message (`"fleet link: {0}"`) and also
//! return it from `source()`, so walking the chain the usual way (`{:#}` on an `anyhow::Error`)
//! says the innermost cause as many times as it is wrapped. [`Chain`] walks the same chain and
//! leaves out a cause that the message so far already ends with.

use std::error::Error;
use std::fmt;

/// Displays an error and those of its causes that its message does not already say.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut said = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !said.ends_with(&text) {
                said.push_str(": ");
                said.push_str(&text);
            }
            cause = error.source();
        }
        f.write_str(&said)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("fleet link: {0}")]
        Shows(#[from] Inner),
        #[error("starting the fleet link")]
        Hides(#[source] Inner),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("I/O: {0}")]
    struct Inner(#[from] std::io::Error);

    fn in_use() -> Inner {
        Inner(std::io::Error::from(std::io::ErrorKind::AddrInUse))
    }

    #[test]
    fn a_cause_already_in_the_message_is_said_once() {
        let error = Outer::Shows(in_use());
        assert_eq!(Chain(&error).to_string(), "fleet link: I/O: address in use");
    }

    #[test]
    fn a_cause_left_out_of_the_message_is_added() {
        let error = Outer::Hides(in_use());
        assert_eq!(
            Chain(&error).to_string(),
            "starting the fleet link: I/O: address in use"
        );
    }
}
