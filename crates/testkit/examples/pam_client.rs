//! `pam_client`: a tiny PAM application with a scripted conversation, used by the
//! integration tests (`tests/codes.rs`, `tests/concurrency.rs` and most others, through the
//! kit's `whole_process` module) to drive the built module through real libpam, usually
//! under pam_wrapper.
//!
//! ```text
//! pam_client [OPTIONS] SERVICE USER
//!   --answer TEXT   answer every prompt with TEXT (the default answer is empty)
//!   --answer-stdin  print the prompt, then answer with one line read from stdin
//!                   (lets a test hold many processes at the prompt and release them at once)
//!   --big           answer every prompt with 1 MiB of digits
//!   --conv-error    the conversation fails with PAM_CONV_ERR
//!   --conv-null     the conversation succeeds but returns no response array (NULL)
//!   --rhost HOST    set PAM_RHOST before authenticating
//! ```
//!
//! There is no option for PAM_AUTHTOK: libpam lets only modules set it (an application gets
//! PAM_BAD_ITEM). To hand pam_otp a token as an earlier module would, put pam_wrapper's
//! `pam_set_items.so` ahead of it in the stack and export `PAM_AUTHTOK=<token>`.
//!
//! Output, on stdout: one line `prompt <style>: <text>` per message the conversation
//! receives (style `echo_off`, `echo_on`, `error` or `info`), then the numeric return
//! code of `pam_authenticate` alone on the last line. The exit status is 0 whenever that
//! code was obtained (whatever it is), and 2 for a usage error or a failed `pam_start`,
//! so that tests assert on the printed code.
//!
//! Example, with the service file `otp` in `./services`:
//!
//! ```text
//! LD_PRELOAD=libpam_wrapper.so PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=./services \
//!     PAM_WRAPPER_DEBUGLEVEL=2 target/debug/examples/pam_client --answer 123456 otp alice
//! ```

// The test client: a broken assumption should stop the test loudly, so unwrap/expect/panic are fine,
// and it reads the clock as the world outside the module does.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

use std::ffi::{c_int, c_void, CStr, CString, OsString};
use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;
use std::ptr;

use pam_otp_testkit::pam_ffi::{
    answer_each_prompt, pam_authenticate, pam_end, pam_set_item, pam_start, pam_strerror, PamConv,
    PamHandle, PamMessage, PamResponse, PAM_CONV_ERR, PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF,
    PAM_PROMPT_ECHO_ON, PAM_RHOST, PAM_SUCCESS, PAM_TEXT_INFO,
};

/// Size of the `--big` answer.
const BIG_ANSWER_LEN: usize = 1 << 20;

/// What the conversation does when asked something.
enum Script {
    Answer(CString),
    AnswerFromStdin,
    Big,
    ConvError,
    ConvNull,
}

struct Options {
    script: Script,
    rhost: Option<CString>,
    service: CString,
    user: CString,
}

fn usage(why: &str) -> ExitCode {
    eprintln!("pam_client: {why}");
    eprintln!(
        "usage: pam_client [--answer TEXT | --answer-stdin | --big | --conv-error | --conv-null] \
         [--rhost HOST] SERVICE USER"
    );
    ExitCode::from(2)
}

fn parse_args() -> Result<Options, String> {
    let mut script = Script::Answer(CString::default());
    let mut rhost = None;
    let mut positional = Vec::new();
    // Arguments need not be UTF-8: the tests hand libpam hostile user names and hosts.
    let mut args = std::env::args_os().skip(1);
    let cstring =
        |s: OsString| CString::new(s.into_vec()).map_err(|_| "argument contains NUL".to_string());
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| format!("{name} needs a value"))
                .and_then(cstring)
        };
        match arg.to_str().unwrap_or("") {
            "--answer" => script = Script::Answer(value("--answer")?),
            "--answer-stdin" => script = Script::AnswerFromStdin,
            "--big" => script = Script::Big,
            "--conv-error" => script = Script::ConvError,
            "--conv-null" => script = Script::ConvNull,
            "--rhost" => rhost = Some(value("--rhost")?),
            other if other.starts_with("--") => return Err(format!("unknown option {other}")),
            _ => positional.push(cstring(arg)?),
        }
    }
    let [service, user]: [CString; 2] = positional
        .try_into()
        .map_err(|_| "expected SERVICE and USER".to_string())?;
    Ok(Options {
        script,
        rhost,
        service,
        user,
    })
}

fn answer_for(script: &Script) -> Option<Vec<u8>> {
    match script {
        Script::Answer(text) => Some(text.as_bytes().to_vec()),
        Script::Big => Some(vec![b'7'; BIG_ANSWER_LEN]),
        Script::AnswerFromStdin => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).ok()?;
            Some(line.trim_end_matches(['\r', '\n']).as_bytes().to_vec())
        }
        Script::ConvError | Script::ConvNull => None,
    }
}

extern "C" fn conversation(
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
    appdata_ptr: *mut c_void,
) -> c_int {
    // A panic must not unwind into libpam.
    std::panic::catch_unwind(|| {
        // SAFETY: `appdata_ptr` is the `&Script` given to pam_start in `main`, which outlives
        // the PAM transaction; libpam passes it back unchanged.
        let script = unsafe { &*appdata_ptr.cast::<Script>() };
        // SAFETY: libpam passes `num_msg` valid messages (Linux-PAM's layout: an array of
        // pointers) and a writable `resp`, per pam_conv(3).
        unsafe { converse(script, num_msg, msg, resp) }
    })
    .unwrap_or(PAM_CONV_ERR)
}

/// # Safety
/// `msg` must point to `num_msg` valid message pointers and `resp` must be writable.
unsafe fn converse(
    script: &Script,
    num_msg: c_int,
    msg: *mut *const PamMessage,
    resp: *mut *mut PamResponse,
) -> c_int {
    let Ok(count) = usize::try_from(num_msg) else {
        return PAM_CONV_ERR;
    };
    let mut stdout = std::io::stdout().lock();
    for i in 0..count {
        // SAFETY: the caller guarantees `count` message pointers, each to a valid message
        // whose text is a NUL-terminated string.
        let (style, text) = unsafe {
            let m = &**msg.add(i);
            (m.msg_style, CStr::from_ptr(m.msg).to_string_lossy())
        };
        let style = match style {
            PAM_PROMPT_ECHO_OFF => "echo_off",
            PAM_PROMPT_ECHO_ON => "echo_on",
            PAM_ERROR_MSG => "error",
            PAM_TEXT_INFO => "info",
            _ => "other",
        };
        let _ = writeln!(stdout, "prompt {style}: {text}");
    }
    let _ = stdout.flush();
    drop(stdout);
    match script {
        Script::ConvError => return PAM_CONV_ERR,
        Script::ConvNull => {
            // SAFETY: the caller guarantees `resp` is writable.
            unsafe { *resp = ptr::null_mut() };
            return PAM_SUCCESS;
        }
        _ => {}
    }
    // SAFETY: the caller guarantees `count` valid message pointers and a writable `resp`.
    unsafe { answer_each_prompt(count, msg, resp, || answer_for(script).unwrap_or_default()) }
}

fn strerror(pamh: *mut PamHandle, code: c_int) -> String {
    // SAFETY: pam_strerror accepts any handle (even NULL in Linux-PAM) and returns a static
    // NUL-terminated string or NULL.
    let text = unsafe { pam_strerror(pamh, code) };
    if text.is_null() {
        return code.to_string();
    }
    // SAFETY: non-NULL result of pam_strerror: a valid C string.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(why) => return usage(&why),
    };
    let conv = PamConv {
        conv: conversation,
        appdata_ptr: ptr::from_ref(&options.script).cast_mut().cast(),
    };
    let mut pamh: *mut PamHandle = ptr::null_mut();
    // SAFETY: valid NUL-terminated strings and a conversation struct that live until pam_end.
    let started = unsafe {
        pam_start(
            options.service.as_ptr(),
            options.user.as_ptr(),
            &conv,
            &mut pamh,
        )
    };
    if started != PAM_SUCCESS || pamh.is_null() {
        eprintln!("pam_client: pam_start failed: {}", strerror(pamh, started));
        return ExitCode::from(2);
    }
    if let Some(rhost) = &options.rhost {
        // SAFETY: `pamh` is live; libpam copies the string.
        let set = unsafe { pam_set_item(pamh, PAM_RHOST, rhost.as_ptr().cast()) };
        if set != PAM_SUCCESS {
            eprintln!(
                "pam_client: pam_set_item(PAM_RHOST) failed: {}",
                strerror(pamh, set)
            );
            // SAFETY: `pamh` is live and not used after this call.
            unsafe { pam_end(pamh, set) };
            return ExitCode::from(2);
        }
    }
    // SAFETY: `pamh` is live, and `conv` and `options` outlive the call.
    let code = unsafe { pam_authenticate(pamh, 0) };
    println!("{code}");
    // SAFETY: `pamh` is live and not used after this call.
    unsafe { pam_end(pamh, code) };
    ExitCode::SUCCESS
}
