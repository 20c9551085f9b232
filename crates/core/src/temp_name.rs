//! Names for temporary files made beside their final name, then renamed or linked into place.

/// `.{stem}.{tag}.{pid}.{nanoseconds}`: hidden, tied to this process, and unlikely to collide
/// with another writer's. Callers create it with `O_EXCL`, so a collision is an error, never a
/// shared file.
pub(crate) fn temp_name(stem: &str, tag: &str) -> String {
    // Only to make the name unlikely to collide; no decision depends on the clock here.
    #[allow(clippy::disallowed_methods)]
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(".{stem}.{tag}.{}.{nanos}", std::process::id())
}
