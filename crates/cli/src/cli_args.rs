//! The command line: clap's description of `pam-otp`'s options and subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// What the module's arguments say; pass the same values as on the `pam_otp.so` line.
///
/// Only the command line sets them: no environment variable does (see [`RETIRED_VARIABLES`]).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Module settings (as on the pam_otp.so line)")]
pub struct ModuleOpts {
    /// The module's configuration file, as its config= argument [default:
    /// /etc/security/pam_otp.conf, if it exists]. The options below override its settings.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Secret file path template, as the module's secret= argument (%h home, %u user, %U uid)
    /// [default: the configuration file's, else %h/.otp]. A template starting with %h is a
    /// user-owned file; an absolute one is an admin-managed store owned by root.
    #[arg(long, global = true, value_name = "TEMPLATE")]
    pub secret: Option<String>,

    /// State directory, as the module's state_dir= argument [default: the configuration
    /// file's, else /var/lib/pam_otp].
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Shortest secret the module accepts, as its min_secret_bits= argument [default: the
    /// configuration file's, else 128].
    #[arg(long, global = true, value_name = "BITS")]
    pub min_secret_bits: Option<usize>,

    /// Use DIR as the home directory (%h) instead of the one in the user database
    /// (for tests, chroots and homes mounted elsewhere).
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
}

// The whole command line: the module settings, then one subcommand. (No doc comment: clap
// would make it the about text of `pam-otp --help`.)
#[derive(Parser, Debug)]
#[command(
    name = "pam-otp",
    version,
    about = "Enrol and manage one-time codes (TOTP/HOTP) for the pam_otp PAM module",
    after_help = "Run 'pam-otp COMMAND --help' for each command's options; see pam-otp(1)."
)]
pub struct Cli {
    #[command(flatten)]
    pub module: ModuleOpts,

    #[command(subcommand)]
    pub command: Command,
}

/// Token type.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// Time-based codes (RFC 6238), what every app shows by default.
    Totp,
    /// Counter-based codes (RFC 4226): a new code each time the app's button is pressed.
    Hotp,
}

/// HMAC algorithm.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlgorithmArg {
    Sha1,
    Sha256,
    Sha512,
}

/// How the QR code is drawn.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrMode {
    /// Coloured blocks on a terminal, plain text otherwise.
    Auto,
    /// Black on white with ANSI colours: right on dark and light terminals alike.
    Ansi,
    /// Plain Unicode blocks, dark modules drawn (for light backgrounds, files and paper).
    Text,
    /// No QR code (the URI and the secret are still printed).
    None,
}

/// Options of `pam-otp enroll`.
#[derive(Args, Debug)]
pub struct EnrollArgs {
    /// Enrol this user instead of yourself (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Token type.
    #[arg(long = "type", value_enum, default_value_t = TokenType::Totp)]
    pub kind: TokenType,

    /// HMAC algorithm. Many phone apps (Google Authenticator among them) silently ignore
    /// anything but SHA1 and then show wrong codes.
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Sha1)]
    pub algorithm: AlgorithmArg,

    /// Digits per code (6, 7 or 8). Many apps ignore anything but 6.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(6..=8))]
    pub digits: u32,

    /// TOTP step in seconds (1 to 300). Many apps ignore anything but 30.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub period: Option<u64>,

    /// HOTP initial counter.
    #[arg(long, value_name = "N")]
    pub counter: Option<u64>,

    /// Secret length in bits, a multiple of 8 from 80 to 512.
    #[arg(long, default_value_t = 160, value_parser = clap::value_parser!(u32).range(80..=512))]
    pub bits: u32,

    /// Issuer shown in the app (default: this host's name).
    #[arg(long, value_name = "TEXT")]
    pub issuer: Option<String>,

    /// Account name shown in the app (default: USER@HOST).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,

    /// Number of single-use recovery codes (0 to 32).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(0..=32))]
    pub recovery_codes: u32,

    /// Save without asking for a code from the app first (for scripts). Without it, the
    /// file is written only once a code from the app has been checked.
    #[arg(long)]
    pub no_confirm: bool,

    /// Replace an existing secret file (the old one is kept as a .bak file beside it).
    #[arg(long)]
    pub force: bool,

    /// How to draw the QR code.
    #[arg(long, value_enum, default_value_t = QrMode::Auto)]
    pub qr: QrMode,

    /// Add a token of this name (a second phone, a hardware token) to the existing secret
    /// file, keeping its other tokens and recovery codes. Letters, digits, '.', '_', '-'.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Instead of a secret: add a contact codes are sent to (email:ADDRESS, ntfy:TOPIC or
    /// webhook:ID) to the user's file, creating a file of delivery lines alone if there is
    /// none. A code is sent there first and the line saved only once it is typed back
    /// (sending needs root; --no-confirm saves it unchecked).
    #[arg(long, value_name = "CHANNEL:CONTACT", conflicts_with_all = ["name", "force"])]
    pub deliver: Option<String>,

    /// With --deliver: give the delivery helper this credentials file instead of
    /// /etc/security/pam_otp.d/deliver.conf.
    #[arg(long, value_name = "PATH", requires = "deliver")]
    pub deliver_conf: Option<PathBuf>,
}

/// Options of `pam-otp tokens`.
#[derive(Args, Debug)]
pub struct TokensArgs {
    /// List this user's tokens instead of yours (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Options of `pam-otp remove`.
#[derive(Args, Debug)]
pub struct RemoveArgs {
    /// The token to remove (as `pam-otp tokens` lists it).
    pub name: String,

    /// Remove this user's token instead of yours (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Options of `pam-otp show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// Show this user's enrolment instead of yours (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Show only this token (default: every token of the file).
    #[arg(long, value_name = "TOKEN")]
    pub name: Option<String>,

    /// Draw a QR code too (MODE as for enroll; --qr alone means auto).
    #[arg(long, value_enum, value_name = "MODE", num_args = 0..=1, default_missing_value = "auto")]
    pub qr: Option<QrMode>,

    /// Issuer shown in the app (default: this host's name, as enroll uses).
    #[arg(long, value_name = "TEXT")]
    pub issuer: Option<String>,

    /// Account name shown in the app (default: USER@HOST, and the token's name for a
    /// named token, as enroll uses).
    #[arg(long, value_name = "TEXT")]
    pub label: Option<String>,
}

/// Options of `pam-otp status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// Show this user instead of yourself (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
}

/// Options of `pam-otp recovery`.
#[derive(Args, Debug)]
pub struct RecoveryArgs {
    /// Show this user's codes count, or regenerate them (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// Replace all recovery codes with new ones, printed once.
    #[arg(long)]
    pub regenerate: bool,

    /// Number of codes to generate with --regenerate (1 to 32).
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub count: u32,
}

/// Options of `pam-otp unlock`.
#[derive(Args, Debug)]
pub struct UnlockArgs {
    /// The users whose lock-outs to clear.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub users: Vec<String>,

    /// Clear the lock-out and failures of every user with a state.
    #[arg(long)]
    pub all: bool,
}

/// Options of `pam-otp locked`.
#[derive(Args, Debug)]
pub struct LockedArgs {
    /// List every user with a state, not only those locked out or failing.
    #[arg(long)]
    pub all: bool,
}

/// Options of `pam-otp reset`.
#[derive(Args, Debug)]
pub struct ResetArgs {
    /// The user whose enrolment to remove.
    pub user: String,

    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// Options of `pam-otp repair`.
#[derive(Args, Debug)]
pub struct RepairArgs {
    /// The user whose state to repair.
    pub user: String,

    /// Rewrite a state that is readable too (it keeps what it holds and adds the repair).
    #[arg(long)]
    pub force: bool,

    /// For an HOTP secret: the counter of the next code the token will show. Without it the
    /// module refuses HOTP codes after a repair, since the counter the token reached is lost.
    #[arg(long, value_name = "N")]
    pub hotp_counter: Option<u64>,

    /// With --hotp-counter: the HOTP token of the file to set it for (default: the file's
    /// first token, `default`).
    #[arg(long, value_name = "TOKEN", requires = "hotp_counter")]
    pub name: Option<String>,
}

/// Options of `pam-otp import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Import for this user instead of yourself (root only).
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,

    /// The google-authenticator file to read (default: ~/.google_authenticator of the user).
    #[arg(long, value_name = "PATH")]
    pub from: Option<PathBuf>,

    /// Replace an existing pam_otp secret file (the old one is kept as a .bak file).
    #[arg(long)]
    pub force: bool,
}

/// Options of `pam-otp check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Check the system installed under DIR instead of / (DIR/etc/pam.d, DIR/etc/ssh, ...).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// PAM service directory (default: ROOT/etc/pam.d).
    #[arg(long, value_name = "DIR")]
    pub pam_dir: Option<PathBuf>,

    /// sshd configuration file (default: ROOT/etc/ssh/sshd_config).
    #[arg(long, value_name = "FILE")]
    pub sshd_config: Option<PathBuf>,
}

// The subcommands, one file each. (No doc comment, as for `Cli`.)
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a secret, show it as a QR code, confirm one code, save it with recovery codes.
    #[command(
        long_about = "Create a secret from the OS random source, show it as a QR code, \
        an otpauth:// URI and in groups for typing by hand, ask for one code from the app, and \
        save the secret file (mode 0600) only if the code matches. Prints single-use recovery \
        codes once.\n\nThe defaults (TOTP, SHA1, 6 digits, 30 s) are the only parameters that \
        common phone apps honour; Google Authenticator, for one, ignores the others and then \
        shows codes that never work."
    )]
    Enroll(EnrollArgs),
    /// Show whether a user is enrolled, with which parameters, and their lock-out state.
    Status(StatusArgs),
    /// Count the recovery codes left, or replace them with --regenerate.
    Recovery(RecoveryArgs),
    /// Clear users' lock-outs after too many failures (root).
    Unlock(UnlockArgs),
    /// List the users locked out or with failures: when, how many, from where (root).
    Locked(LockedArgs),
    /// Print Prometheus metrics of logins, lock-outs and enrolments (root).
    Metrics,
    /// Remove a user's enrolment: the secret file is moved to a backup (root).
    Reset(ResetArgs),
    /// Replace a corrupt or unreadable state with one that reopens no used code (root).
    Repair(RepairArgs),
    /// Convert a ~/.google_authenticator file, so the phone entry keeps working.
    Import(ImportArgs),
    /// Look for PAM and sshd settings that lock people out or skip the code.
    Check(CheckArgs),
    /// List the tokens (devices) of a secret file: name, type, algorithm, digits, period.
    Tokens(TokensArgs),
    /// Remove one named token from a secret file (the default token stays).
    Remove(RemoveArgs),
    /// Show the enrolment again (otpauth URI, secret, --qr), to add a device; in private.
    Show(ShowArgs),
    /// Test the shared state store (fleet mode), or move this host's state into it (root).
    #[command(subcommand)]
    Store(StoreCommand),
    /// Send a test code through the delivery helper, as a login would (root).
    #[command(subcommand)]
    Deliver(DeliverCommand),
}

/// `pam-otp deliver …`.
#[derive(Subcommand, Debug)]
pub enum DeliverCommand {
    /// Make a code and hand it to the delivery helper for USER exactly as the module does
    /// (its path, user, timeout and digits from pam_otp.conf), then print the outcome and,
    /// on success, the code, to compare with what arrived. It logs nobody in.
    Test(DeliverTestArgs),
}

/// Options of `pam-otp deliver test`.
#[derive(Args, Debug)]
pub struct DeliverTestArgs {
    /// The user the code is for (the helper is told this name).
    pub user: String,

    /// Send to this contact instead of each of the user's deliver lines.
    #[arg(long, value_name = "CHANNEL:CONTACT")]
    pub contact: Option<String>,

    /// Give the helper this credentials file instead of
    /// /etc/security/pam_otp.d/deliver.conf (to try one before installing it).
    #[arg(long, value_name = "PATH")]
    pub deliver_conf: Option<PathBuf>,
}

/// `pam-otp store …`.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Connect to the configured Redis, authenticate, run the check-and-set once on a
    /// scratch key and report the latency of each step, before logins depend on it.
    Check(StoreCheckArgs),
    /// Copy this host's state files into the shared store, merging with any record already
    /// there, so that no code used here or elsewhere becomes valid again.
    Migrate(StoreMigrateArgs),
}

/// Options of `pam-otp store check`.
#[derive(Args, Debug)]
pub struct StoreCheckArgs {}

/// Options of `pam-otp store migrate`.
#[derive(Args, Debug)]
pub struct StoreMigrateArgs {
    /// Show what would be copied or merged, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Variables that earlier versions read as defaults of the module settings, with the option
/// that replaces each. `sudo` keeps them when told to (`env_keep`, `sudo -E`), so a user
/// allowed to run one `pam-otp` command as root could point it at other files. They are no
/// longer read, and refused when set, so a script written for them stops instead of
/// silently acting on the default paths.
pub const RETIRED_VARIABLES: &[(&str, &str)] = &[
    ("PAM_OTP_SECRET", "--secret"),
    ("PAM_OTP_STATE_DIR", "--state-dir"),
    ("PAM_OTP_MIN_SECRET_BITS", "--min-secret-bits"),
];
