use std::alloc::{GlobalAlloc, Layout, System};

/// The tool makes many small allocations per cell (events, outcomes, results
/// entries); mimalloc halves what glibc's malloc costs there (`wasm-matrix
/// bench`). But the embedded engines run in this process too, and the
/// interpreters keep a linear memory in one `Vec` that grows by `realloc`:
/// mimalloc moves such a block by copying it (a 4 GiB memory grown 8,192
/// pages at a time was copied over and over, and twice resident while it
/// was), where glibc's malloc, which an embedder usually has, maps a block
/// this big on its own and moves it with `mremap`. So blocks of
/// [`BIG`] bytes and more go to the system allocator. A block's size says
/// which allocator has it: `dealloc` and `realloc` get the size it was
/// allocated with.
struct Allocator;

/// glibc maps every block from 32 MiB up (its `mmap` threshold can rise no
/// higher on 64-bit systems).
const BIG: usize = 32 << 20;

static SMALL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// SAFETY: each call goes to one of two allocators by the block's size,
// which is the same at allocation and at release (GlobalAlloc's contract);
// a block that crosses BIG in a realloc is moved by hand between them.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= BIG {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { SMALL.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= BIG {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { SMALL.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if layout.size() >= BIG {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { SMALL.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (layout.size() >= BIG, new_size >= BIG) {
            (true, true) => unsafe { System.realloc(ptr, layout, new_size) },
            (false, false) => unsafe { SMALL.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: the caller guarantees `new_size`, rounded up to the
                // alignment, does not overflow isize.
                let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                new
            }
        }
    }
}

#[global_allocator]
static GLOBAL: Allocator = Allocator;

fn main() -> std::process::ExitCode {
    wasm_matrix::cli::main()
}
