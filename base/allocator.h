// The allocator of ucam's executables (ucamctl, ucamd): set up first thing in main().
//
// Built with UCAM_MIMALLOC (CMake's ucam_allocator()), the executable allocates through mimalloc,
// and tune_allocator() has it take memory from the kernel in 2 MiB pages by default. A stack of
// 100,000 LUNs allocates ~470 MiB in small blocks; with glibc's malloc and 4 KiB pages it spent
// more time in page faults and malloc than in its own work (docs/design.md, "Dependencies").
// The environment still decides: MIMALLOC_LARGE_OS_PAGES=0 turns the large pages off.
// Elsewhere (sanitizer and fuzz builds, tests, the preload library) this does nothing.
#pragma once

#if defined(UCAM_MIMALLOC)
#include <mimalloc.h>
#endif

namespace ucam {

// 2 MiB pages by default. They cost ~4 MiB more resident memory in a small process. ucamd does
// not call this: mimalloc commits a thread's large pages eagerly, and ucamd's worker pool grows
// to max_clients + 2 threads (64 clients at once: 23 MiB resident against 12.5).
inline void tune_allocator() {
#if defined(UCAM_MIMALLOC)
  mi_option_set_enabled_default(mi_option_large_os_pages, true);
#endif
}

}  // namespace ucam
