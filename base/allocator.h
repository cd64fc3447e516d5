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

// `large_pages`: 2 MiB pages by default. They cost ~4 MiB more resident memory in a small
// process, so a process that keeps many threads with little memory each may leave them off.
inline void tune_allocator([[maybe_unused]] bool large_pages) {
#if defined(UCAM_MIMALLOC)
  mi_option_set_enabled_default(mi_option_large_os_pages, large_pages);
#endif
}

}  // namespace ucam
