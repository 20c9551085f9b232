//! Answers typed on standard input (a code to confirm, a user name to confirm a reset).

use std::io::BufRead;

use zeroize::Zeroizing;

use crate::error::{fail, Result};

/// One line from standard input after `prompt` on standard error; `None` at end of input.
pub fn ask(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    use std::io::Write;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    // Room for any answer from the start: a growing buffer would leave copies behind.
    let mut line = Zeroizing::new(String::with_capacity(1024));
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => {
            let trimmed = Zeroizing::new(line.trim().to_string());
            Ok(Some(trimmed))
        }
        Err(e) => fail!("could not read standard input: {e}."),
    }
}
