//! The shared (Redis) store, through the Redis client library pam_otp_redis.so.
//!
//! pam_otp.so links no network or TLS code, so that a login on the file store pays nothing
//! for fleet mode (BENCHMARKS.md). When the configuration says `store=redis`, the attempt
//! loads the library from the module's own directory — found with `dladdr` on this code,
//! so it is right under any multiarch path — named after the module's file: `pam_otp.so`
//! → `pam_otp_redis.so` (cargo's `libpam_otp.so` → `libpam_otp_redis.so`, which is how the
//! tests find the one built beside it). The library must pass the checks every root file
//! does (a regular file, not a symbolic link, owned by root or by whoever runs the host,
//! not writable by group or others, in a directory likewise), and carry this build's ABI
//! version and build id (`pam_otp_core::fleet::abi`).
//!
//! A library that is missing, unsafe, unloadable or from another build is a packaging
//! error: the attempt refuses (`state_error`, the reason in the log line), and
//! `fail_mode=local` does not fall back on it — that is only for a Redis that cannot be
//! reached. It is loaded `RTLD_NOW | RTLD_LOCAL` for the attempt and closed after it.

use std::ffi::{c_void, CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;
use zeroize::Zeroizing;

use pam_otp_core::args::Config;
use pam_otp_core::authenticate::Stores;
use pam_otp_core::fleet::abi::{
    build_id_array, encode_settings, EntryFn, RedisApiV1, Status, TransactOutput, TransactRequest,
    ABI_VERSION, BUILD_ID, ENTRY_SYMBOL, MESSAGE_CAP,
};
use pam_otp_core::fleet::settings::RedisSettings;
use pam_otp_core::private_file::{check_parent, open_parent};
use pam_otp_core::state::{State, MAX_ENCODED_LEN};
use pam_otp_core::store::{Inspection, StateKey, StateStore, StoreError};

/// The stores the configuration names, the shared one through the library.
pub(crate) fn open_stores(config: &Config) -> Stores {
    Stores::open_with(config, |settings| Box::new(LibraryStore::open(settings)))
}

/// The shared store, served by the loaded library (or refusing with why it is not).
struct LibraryStore {
    library: Result<Library, String>,
    settings: Zeroizing<Vec<u8>>,
    location: String,
}

impl LibraryStore {
    fn open(settings: &RedisSettings) -> LibraryStore {
        LibraryStore {
            library: library_path().and_then(|path| {
                Library::load(&path)
                    .map_err(|why| format!("Redis client library {}: {why}", path.display()))
            }),
            settings: encode_settings(settings),
            location: settings.location(),
        }
    }
}

impl StateStore for LibraryStore {
    fn transact(
        &self,
        key: StateKey<'_>,
        decide: &mut dyn FnMut(&State) -> State,
    ) -> Result<State, StoreError> {
        let library = self
            .library
            .as_ref()
            .map_err(|why| StoreError::Server(why.clone()))?;
        let mut state = vec![0u8; MAX_ENCODED_LEN];
        let mut message = vec![0u8; MESSAGE_CAP];
        let mut output = TransactOutput {
            state: state.as_mut_ptr(),
            state_cap: state.len(),
            state_len: 0,
            message: message.as_mut_ptr(),
            message_cap: message.len(),
            message_len: 0,
        };
        let mut decide: &mut dyn FnMut(&State) -> State = decide;
        let request = TransactRequest {
            settings: self.settings.as_ptr(),
            settings_len: self.settings.len(),
            name: key.name.as_ptr(),
            name_len: key.name.len(),
            uid: key.uid,
            decide: decide_trampoline,
            decide_ctx: (&raw mut decide).cast::<c_void>(),
        };
        // SAFETY: the table came from a library that is still loaded (`library` lives as
        // long as `self`); every buffer the request and output name is ours and outlives
        // the call; `decide_ctx` points to `decide`, which is what the trampoline expects.
        let code = unsafe { (library.api.transact)(&request, &mut output) };
        let text = || {
            let n = output.message_len.min(message.len());
            String::from_utf8_lossy(&message[..n]).into_owned()
        };
        match Status::from_code(code) {
            Status::Ok => {
                let n = output.state_len.min(state.len());
                State::decode(&state[..n]).map_err(|_| {
                    StoreError::Server("the Redis client library returned no valid state".into())
                })
            }
            Status::Unreachable => Err(StoreError::Unreachable(text())),
            Status::Server => Err(StoreError::Server(text())),
            Status::Corrupt => Err(StoreError::Corrupt),
            Status::Settings => Err(StoreError::Server(format!("Redis settings: {}", text()))),
            Status::Failed => Err(StoreError::Server(format!(
                "Redis client library: {}",
                text()
            ))),
        }
    }

    fn inspect(&self, _: StateKey<'_>) -> Result<Inspection, StoreError> {
        Err(StoreError::Server(
            "the module only transacts; pam-otp inspects shared records".into(),
        ))
    }

    fn replace(&self, _: StateKey<'_>, _: &State, _: &str) -> Result<(), StoreError> {
        Err(StoreError::Server(
            "the module only transacts; pam-otp replaces shared records".into(),
        ))
    }

    fn location(&self) -> String {
        self.location.clone()
    }
}

/// `abi::DecideFn`: decodes the current state, runs the attempt's decision on it (a panic
/// caught here, never unwound into the library), and writes the encoded next state.
///
/// # Safety
/// `ctx` points to the `&mut dyn FnMut(&State) -> State` that [`LibraryStore::transact`]
/// passed; the buffers are valid for their lengths.
unsafe extern "C" fn decide_trampoline(
    ctx: *mut c_void,
    current: *const u8,
    current_len: usize,
    next: *mut u8,
    next_cap: usize,
    next_len: *mut usize,
) -> i32 {
    if ctx.is_null() || current.is_null() || next.is_null() || next_len.is_null() {
        return 1;
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: see the function's contract.
        let decide = unsafe { &mut *ctx.cast::<&mut dyn FnMut(&State) -> State>() };
        // SAFETY: `current_len` readable bytes at `current`.
        let bytes = unsafe { std::slice::from_raw_parts(current, current_len) };
        let state = State::decode(bytes).ok()?;
        let encoded = decide(&state).encode();
        (encoded.len() <= next_cap).then_some(encoded)
    }));
    match outcome {
        Ok(Some(encoded)) => {
            // SAFETY: `next_cap` writable bytes at `next`, and the encoding fits; `next_len`
            // is writable.
            unsafe {
                std::ptr::copy_nonoverlapping(encoded.as_ptr(), next, encoded.len());
                *next_len = encoded.len();
            }
            0
        }
        _ => 1,
    }
}

/// A loaded library and its function table.
struct Library {
    handle: *mut c_void,
    /// Valid while `handle` is open.
    api: &'static RedisApiV1,
}

impl Drop for Library {
    fn drop(&mut self) {
        // SAFETY: `handle` came from dlopen and is closed once; nothing borrowed from the
        // library (`api`) outlives `self`.
        unsafe { libc::dlclose(self.handle) };
    }
}

/// The operating system's last dlopen/dlsym error.
fn dl_error() -> String {
    // SAFETY: dlerror returns null or a NUL-terminated string valid until the next dl call.
    let e = unsafe { libc::dlerror() };
    if e.is_null() {
        return "unknown error".into();
    }
    // SAFETY: non-null, NUL-terminated (see above).
    unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
}

impl Library {
    fn load(path: &Path) -> Result<Library, String> {
        check_file(path)?;
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| "bad path")?;
        // SAFETY: a NUL-terminated path; loading runs the library's initialisers, which a
        // Rust cdylib has none of beyond the C runtime's.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(format!("cannot be loaded: {}", dl_error()));
        }
        let library = Library {
            handle,
            api: api_of(handle)?,
        };
        if library.api.abi_version != ABI_VERSION || library.api.build_id != build_id_array() {
            let id = &library.api.build_id;
            let end = id.iter().position(|b| *b == 0).unwrap_or(id.len());
            return Err(format!(
                "is from another build (ABI {}, \"{}\"; this module: ABI {ABI_VERSION}, \
                 \"{BUILD_ID}\"): install pam_otp.so and pam_otp_redis.so from one package",
                library.api.abi_version,
                String::from_utf8_lossy(&id[..end])
            ));
        }
        Ok(library)
    }
}

/// The function table of the library at `handle`. (On an error the caller's `Library`
/// does not exist yet, so the handle is closed here.)
fn api_of(handle: *mut c_void) -> Result<&'static RedisApiV1, String> {
    let close = |why: String| {
        // SAFETY: `handle` is open and nothing else holds it.
        unsafe { libc::dlclose(handle) };
        why
    };
    // SAFETY: `handle` is open; the name is NUL-terminated.
    let entry = unsafe { libc::dlsym(handle, ENTRY_SYMBOL.as_ptr().cast()) };
    if entry.is_null() {
        return Err(close(format!(
            "has no pam_otp_redis_v1 (not pam_otp's Redis client, or another ABI): {}",
            dl_error()
        )));
    }
    // SAFETY: the symbol is `abi::EntryFn` in every library that exports it.
    let entry: EntryFn = unsafe { std::mem::transmute::<*mut c_void, EntryFn>(entry) };
    // SAFETY: the entry takes nothing and returns a pointer to a static table.
    let api = unsafe { entry() };
    if api.is_null() {
        return Err(close("returned no function table".into()));
    }
    // SAFETY: non-null, pointing to the library's static table; the `'static` is bounded
    // in practice by `Library`, which closes the handle only when dropped.
    Ok(unsafe { &*api })
}

/// The library's path: beside the module's own file, named after it.
fn library_path() -> Result<PathBuf, String> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    let here = library_path as fn() -> Result<PathBuf, String>;
    // SAFETY: any address is a valid argument; `info` is writable.
    let found = unsafe { libc::dladdr(here as *const c_void, info.as_mut_ptr()) };
    // SAFETY: zero-initialised, and filled in by dladdr where it succeeded.
    let info = unsafe { info.assume_init() };
    if found == 0 || info.dli_fname.is_null() {
        return Err("the module cannot tell where it was loaded from (dladdr)".into());
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the dynamic loader.
    let module = unsafe { CStr::from_ptr(info.dli_fname) };
    sibling(Path::new(OsStr::from_bytes(module.to_bytes())))
}

/// `dir/NAME.so` → `dir/NAME_redis.so`.
fn sibling(module: &Path) -> Result<PathBuf, String> {
    let name = module
        .file_name()
        .and_then(|n| n.as_bytes().strip_suffix(b".so"))
        .filter(|_| module.is_absolute())
        .ok_or_else(|| {
            format!(
                "the module was loaded as {}, not as an absolute path to NAME.so",
                module.display()
            )
        })?;
    let mut file = name.to_vec();
    file.extend_from_slice(b"_redis.so");
    Ok(module.with_file_name(OsStr::from_bytes(&file)))
}

const FILE_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_CLOEXEC)
    .union(OFlag::O_NOCTTY);

/// The checks of any file root trusts: its directory owned by root (or the host's user) and
/// not group/other-writable, the file itself reached without a symbolic link, regular, owned
/// by root (or the host's user), not writable by group or others.
fn check_file(path: &Path) -> Result<(), String> {
    let euid = nix::unistd::geteuid().as_raw();
    let (dir, name) = open_parent(path).map_err(|e| e.to_string())?;
    check_parent(&dir, euid).map_err(|e| e.to_string())?;
    let fd = openat(&dir, name, FILE_FLAGS, Mode::empty()).map_err(|e| match e {
        nix::errno::Errno::ENOENT => "is missing (it is installed beside pam_otp.so)".to_string(),
        nix::errno::Errno::ELOOP => "is a symbolic link".to_string(),
        other => format!("cannot be opened: {}", other.desc()),
    })?;
    let meta = std::fs::File::from(fd)
        .metadata()
        .map_err(|e| format!("cannot be examined: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("is not a regular file".into());
    }
    if meta.uid() != 0 && meta.uid() != euid {
        return Err("is not owned by root".into());
    }
    if meta.mode() & 0o022 != 0 {
        return Err("is writable by group or others".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_named_after_the_module() {
        assert_eq!(
            sibling(Path::new("/usr/lib/x86_64-linux-gnu/security/pam_otp.so")),
            Ok(PathBuf::from(
                "/usr/lib/x86_64-linux-gnu/security/pam_otp_redis.so"
            ))
        );
        assert_eq!(
            sibling(Path::new("/w/target/debug/deps/libpam_otp.so")),
            Ok(PathBuf::from("/w/target/debug/deps/libpam_otp_redis.so"))
        );
        assert!(sibling(Path::new("pam_otp.so")).is_err());
        assert!(sibling(Path::new("/lib/security/pam_otp")).is_err());
    }
}
