//! Secrets must not outlive their use in freed heap memory. A test binary installs
//! [`Inspecting`] as its global allocator; it inspects every block as it is freed (a
//! reallocation is done as allocate, copy, free, so the old block is inspected too) and, while
//! [`leaks`] runs an operation, counts the freed blocks that still hold one of the needles
//! (the start of a key, of its base32 form, of a typed code). The stack is not inspected.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use zeroize::Zeroizing;

/// The allocator to install with `#[global_allocator]` in the test binary.
pub struct Inspecting;

static ARMED: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicUsize = AtomicUsize::new(0);
/// What must not be found: set once, before arming; lives outside the heap.
static NEEDLES: OnceLock<Vec<[u8; 8]>> = OnceLock::new();

/// Sets what must not be found (once per test binary), before anything is armed.
pub fn set_needles(needles: Vec<[u8; 8]>) {
    assert!(NEEDLES.set(needles).is_ok(), "needles are set once");
}

fn holds_a_needle(block: &[u8]) -> bool {
    NEEDLES.get().is_some_and(|needles| {
        needles
            .iter()
            .any(|n| block.windows(n.len()).any(|w| w == n))
    })
}

// SAFETY: every call is forwarded to the system allocator with the same layout; the only
// addition is reading a block that is about to be freed, which is still valid then.
unsafe impl GlobalAlloc for Inspecting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.load(Ordering::SeqCst) {
            // SAFETY: ptr is a live block of layout.size() bytes until System.dealloc below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if holds_a_needle(block) {
                FOUND.fetch_add(1, Ordering::SeqCst);
            }
        }
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees new_size is valid for layout's alignment; the old
        // block is copied before it is freed (through `dealloc`, so that it is inspected).
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// Runs `op` with the inspector armed; returns how many freed blocks held a needle.
pub fn leaks(op: impl FnOnce()) -> usize {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _one = ONE_AT_A_TIME.lock().unwrap();
    FOUND.store(0, Ordering::SeqCst);
    ARMED.store(true, Ordering::SeqCst);
    op();
    ARMED.store(false, Ordering::SeqCst);
    FOUND.load(Ordering::SeqCst)
}

/// A random 32-byte key in which no byte is zero or a space, so that its first bytes make a
/// distinctive needle.
pub fn random_key() -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(vec![0u8; 32]);
    getrandom::fill(&mut key).expect("the OS random source");
    for b in key.iter_mut() {
        *b |= 0x80;
    }
    key
}

/// The needle of a secret: its first 8 bytes.
pub fn needle(secret: &[u8]) -> [u8; 8] {
    secret[..8]
        .try_into()
        .expect("a secret of at least 8 bytes")
}
