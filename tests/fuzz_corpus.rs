//! Replays the fuzz corpus (`fuzz/corpus/`) and every input that once crashed a fuzz target
//! (`fuzz/regressions/`) through the same property checks the targets run, under plain
//! `cargo test` (no cargo-fuzz, no nightly). A crash found by fuzzing is fixed, then its input
//! is copied to `fuzz/regressions/<target>/`, and from then on this test keeps it fixed.

#[path = "../fuzz/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&bytes));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no corpus for {target} in {}", root.display());
}

#[test]
fn secret_file_corpus() {
    replay("secret_file", checks::secret_file);
}

#[test]
fn state_file_corpus_and_regressions() {
    replay("state_file", checks::state_file);
}

#[test]
fn module_args_corpus() {
    replay("module_args", checks::module_args);
}

#[test]
fn typed_code_corpus() {
    replay("typed_code", checks::typed_code);
}

#[test]
fn config_file_corpus() {
    replay("config_file", checks::config_file);
}

#[test]
fn redis_reply_corpus() {
    replay("redis_reply", checks::redis_reply);
}

#[test]
fn deliver_line_corpus() {
    replay("deliver_line", checks::deliver_line);
}

#[test]
fn deliver_conf_corpus() {
    replay("deliver_conf", checks::deliver_conf);
}

#[test]
fn provider_answer_corpus() {
    replay("provider_answer", checks::provider_answer);
}
