//! The benchmarks' allocator: mimalloc, as the `csamctl` binary uses, unless
//! `BENCH_ALLOCATOR=system` chooses the system's (glibc) allocator for the whole process.
//!
//! The floor programs run under both (bench/floor.sh), and the floor is the fastest of
//! all: csamctl gains nothing from its allocator that the floor is denied.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

/// Not decided yet / the system's / mimalloc.
const UNDECIDED: u8 = 0;
const SYSTEM: u8 = 1;
const MIMALLOC: u8 = 2;

static CHOICE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The allocator of the bench binaries, decided once, at the process's first allocation
/// (before any thread exists), so that every block is freed by the allocator that made it.
pub struct BenchAllocator;

impl BenchAllocator {
    fn system() -> bool {
        match CHOICE.load(Ordering::Relaxed) {
            SYSTEM => true,
            MIMALLOC => false,
            _ => {
                // SAFETY: getenv with a NUL-terminated name; it allocates nothing, which
                // matters inside the allocator. The result is only read, right away.
                let value = unsafe { libc::getenv(c"BENCH_ALLOCATOR".as_ptr()) };
                let system = !value.is_null()
                    // SAFETY: a non-null getenv result is a NUL-terminated string.
                    && unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes() == b"system";
                CHOICE.store(if system { SYSTEM } else { MIMALLOC }, Ordering::Relaxed);
                system
            }
        }
    }
}

// SAFETY: every call forwards to one allocator, the same one for the process's lifetime.
unsafe impl GlobalAlloc for BenchAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Self::system() {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Self::system() {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if Self::system() {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Self::system() {
            unsafe { System.realloc(ptr, layout, new_size) }
        } else {
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: BenchAllocator = BenchAllocator;
