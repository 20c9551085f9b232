//! `disk`: one durable save, in place vs temporary file + rename.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Instant;

use crate::setup::private_dir;
use crate::stats::{percentile, Series};
use crate::Options;

/// What one durable save costs on the scratch directory's disk, by the two designs DESIGN.md
/// compares: in place (pwrite of one slot + fdatasync, as pam_otp's store does) and by
/// temporary file + fsync + rename + fsync of the directory (what a rewrite-the-file
/// design needs to be durable).
pub(crate) fn disk(opts: &Options) {
    use std::os::unix::fs::FileExt;
    let n = opts.logins.max(1);
    let dir = private_dir(&opts.dir.join("disk"));
    let slot = [0x5au8; 77];
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(dir.join("inplace"))
        .unwrap();
    file.write_all_at(&[0u8; 8192], 0).unwrap();
    file.sync_all().unwrap();
    let dirfd = fs::File::open(&dir).unwrap();
    let image = [0x33u8; 8192];
    let mut inplace = Series { samples: vec![] };
    let mut rename = Series { samples: vec![] };
    for i in 0..n {
        let started = Instant::now();
        file.write_all_at(&slot, (i % 2 * 4096) as u64).unwrap();
        file.sync_data().unwrap();
        inplace.samples.push(started.elapsed().as_secs_f64() * 1e6);

        let started = Instant::now();
        let temp = dir.join("state.new");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .unwrap();
        f.write_all(&image).unwrap();
        f.sync_all().unwrap();
        fs::rename(&temp, dir.join("state")).unwrap();
        dirfd.sync_all().unwrap();
        rename.samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    println!("### One durable save on this disk ({n} of each, interleaved)\n");
    println!("| design | median µs | p10 µs | p90 µs |");
    println!("|---|---:|---:|---:|");
    for (name, s) in [
        ("in place: pwrite one slot + fdatasync (pam_otp)", &inplace),
        (
            "temporary file + fsync + rename + fsync of the directory",
            &rename,
        ),
    ] {
        let sorted = s.sorted();
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            s.median(),
            percentile(&sorted, 0.1),
            percentile(&sorted, 0.9)
        );
    }
    println!();
}
