//! Random bytes from the OS source, for new secrets, recovery codes and their salts.

use zeroize::Zeroizing;

use crate::error::{CliError, Result};

/// `len` bytes from the OS random source, wiped when dropped.
pub fn random_bytes(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut buf)
        .map_err(|e| CliError(format!("the OS random source failed: {e}.")))?;
    Ok(buf)
}
