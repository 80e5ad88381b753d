// For the Rust builds (build.sh, Debian's rustc with its wasm32 std): what
// a Rust module does when its allocator cannot get more memory. Blocks of
// N MiB are kept until the allocation fails: with `try_reserve_exact` the
// failure is a value (the count so far is returned); with a plain
// `Vec::with_capacity` it is `handle_alloc_error`, whose documented default
// is to print a message to stderr and abort the process.
#![crate_type = "cdylib"]

static mut KEPT: Vec<Vec<u8>> = Vec::new();

/// MiB kept before `try_reserve_exact` of `mib` MiB more failed (it stops
/// at 65,536 blocks).
#[no_mangle]
pub extern "C" fn try_reserve_until_fail(mib: u32) -> u32 {
    let mut got = 0;
    for _ in 0..65536 {
        let mut v: Vec<u8> = Vec::new();
        if v.try_reserve_exact((mib as usize) << 20).is_err() {
            return got;
        }
        v.push(1);
        unsafe { KEPT.push(v) };
        got += mib;
    }
    got
}

/// Blocks of `mib` MiB with `Vec::with_capacity` until one cannot be had:
/// `handle_alloc_error` then (returns only if it never fails).
#[no_mangle]
pub extern "C" fn vec_until_abort(mib: u32) -> u32 {
    let mut got = 0;
    for _ in 0..65536 {
        let mut v: Vec<u8> = Vec::with_capacity((mib as usize) << 20);
        v.push(1);
        unsafe { KEPT.push(v) };
        got += mib;
    }
    got
}

/// The memory's size in pages.
#[no_mangle]
pub extern "C" fn pages() -> u32 {
    core::arch::wasm32::memory_size(0) as u32
}
