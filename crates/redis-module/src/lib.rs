//! `pam_otp_redis.so`: pam_otp's Redis client (RESP, Sentinel, rustls) in a library of its
//! own, which pam_otp.so loads only when the configuration says `store=redis`, so that a
//! login on the file store loads none of it (BENCHMARKS.md measures what that saves).
//!
//! It exports one function, `pam_otp_redis_v1`, returning the table of
//! `pam_otp_core::fleet::abi` (which says the whole contract). The transaction runs the
//! core's `RedisStore` exactly as the `pam-otp` command does; the decision it calls back is
//! the module's. Every panic is caught here: none unwinds into the module.

// The house rules for code that runs inside sshd or sudo (as in the root package).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::panic::{catch_unwind, AssertUnwindSafe};

use pam_otp_core::fleet::abi::{
    build_id_array, decode_settings, write_message, RedisApiV1, Status, TransactOutput,
    TransactRequest, ABI_VERSION,
};
use pam_otp_core::fleet::redis_store::RedisStore;
use pam_otp_core::state::{State, MAX_ENCODED_LEN};
use pam_otp_core::store::{StateKey, StateStore, StoreError};

static API: RedisApiV1 = RedisApiV1 {
    abi_version: ABI_VERSION,
    build_id: build_id_array(),
    transact,
};

/// The library's entry point (`abi::ENTRY_SYMBOL`): the function table, valid while the
/// library stays loaded.
#[no_mangle]
pub extern "C" fn pam_otp_redis_v1() -> *const RedisApiV1 {
    &API
}

/// `abi::TransactFn`.
///
/// # Safety
/// `request` and `output` point to valid values whose buffers are as described in
/// `pam_otp_core::fleet::abi`.
unsafe extern "C" fn transact(request: *const TransactRequest, output: *mut TransactOutput) -> i32 {
    if request.is_null() || output.is_null() {
        return Status::Failed as i32;
    }
    // SAFETY: both are non-null and, by the caller's contract, valid for the call.
    let (request, output) = unsafe { (&*request, &mut *output) };
    // SAFETY: the caller's contract (see above) is what `run` needs.
    let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { run(request, output) }));
    let (status, message) = match outcome {
        Ok(Ok(())) => return Status::Ok as i32,
        Ok(Err(failure)) => failure,
        Err(_) => (Status::Failed, "the Redis client panicked".to_string()),
    };
    // SAFETY: the caller gives `message_cap` writable bytes at `message`.
    output.message_len = unsafe { write_message(&message, output.message, output.message_cap) };
    status as i32
}

/// The bytes at `ptr`, `len` long (none for a null pointer).
///
/// # Safety
/// `ptr` is null or valid for reads of `len` bytes for the call.
unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() {
        return &[];
    }
    // SAFETY: the caller's contract.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// # Safety
/// As [`transact`].
unsafe fn run(
    request: &TransactRequest,
    output: &mut TransactOutput,
) -> Result<(), (Status, String)> {
    // SAFETY: the request's pointers and lengths describe the module's buffers.
    let (settings, name) = unsafe {
        (
            bytes(request.settings, request.settings_len),
            bytes(request.name, request.name_len),
        )
    };
    let settings = decode_settings(settings).ok_or((
        Status::Failed,
        "the module sent settings this Redis client library cannot read".to_string(),
    ))?;
    let name = std::str::from_utf8(name)
        .map_err(|_| (Status::Failed, "the user name is not UTF-8".to_string()))?;
    let store = RedisStore::new(settings).map_err(|e| (Status::Settings, e.to_string()))?;

    let mut decision_failed = false;
    let mut decide = |current: &State| -> State {
        let encoded = current.encode();
        let mut next = vec![0u8; MAX_ENCODED_LEN];
        let mut next_len = 0usize;
        // SAFETY: `decide` is the module's `abi::DecideFn`, with its own context; the
        // buffers are ours and live for the call.
        let rc = unsafe {
            (request.decide)(
                request.decide_ctx,
                encoded.as_ptr(),
                encoded.len(),
                next.as_mut_ptr(),
                next.len(),
                &mut next_len,
            )
        };
        let decided = (rc == 0)
            .then(|| next.get(..next_len))
            .flatten()
            .and_then(|b| State::decode(b).ok());
        match decided {
            Some(state) => state,
            None => {
                // Unchanged, so nothing is saved; the transaction then fails below.
                decision_failed = true;
                current.clone()
            }
        }
    };
    let result = store.transact(
        StateKey {
            uid: request.uid,
            name,
        },
        &mut decide,
    );
    if decision_failed {
        return Err((Status::Failed, "the module's decision failed".to_string()));
    }
    match result {
        Ok(state) => {
            let encoded = state.encode();
            if output.state.is_null() || encoded.len() > output.state_cap {
                return Err((Status::Failed, "no room for the saved state".to_string()));
            }
            // SAFETY: `state_cap` writable bytes at `state` (the caller's contract), and
            // the encoding fits.
            unsafe { std::ptr::copy_nonoverlapping(encoded.as_ptr(), output.state, encoded.len()) };
            output.state_len = encoded.len();
            Ok(())
        }
        Err(StoreError::Unreachable(why)) => Err((Status::Unreachable, why)),
        Err(StoreError::Server(why)) => Err((Status::Server, why)),
        Err(StoreError::Corrupt) => Err((Status::Corrupt, String::new())),
        Err(other) => Err((Status::Server, other.to_string())),
    }
}
