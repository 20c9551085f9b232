//! The one conversion from a standard-library I/O error to the errno the error types carry.

use nix::errno::Errno;

/// The errno of a failed standard-library I/O call (`EIO` when it carries none).
pub(crate) fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}
