//! Answers typed on standard input (a code to confirm, a user name to confirm a reset).

use std::io::BufRead;

use zeroize::Zeroizing;

use crate::error::{fail, Result};

/// One line from standard input after `prompt` on standard error; `None` at end of input.
pub fn ask(prompt: &str) -> Result<Option<Zeroizing<String>>> {
    use std::io::Write;
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = Zeroizing::new(String::new());
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => {
            let trimmed = Zeroizing::new(line.trim().to_string());
            Ok(Some(trimmed))
        }
        Err(e) => fail!("could not read standard input: {e}."),
    }
}
