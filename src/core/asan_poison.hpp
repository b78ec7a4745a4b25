#pragma once
// HARRIER_POISON / HARRIER_UNPOISON: mark memory that a recycling allocator keeps (frames, pool
// blocks) as unusable under AddressSanitizer, so that a use after free is still reported; no-ops
// otherwise (internal).
//
// GCC says -fsanitize=address with __SANITIZE_ADDRESS__, clang with __has_feature.

#if defined(__SANITIZE_ADDRESS__)
#define HARRIER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HARRIER_ASAN 1
#endif
#endif

#if defined(HARRIER_ASAN)
#include <sanitizer/asan_interface.h>
#define HARRIER_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define HARRIER_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define HARRIER_POISON(p, n) ((void)(p), (void)(n))
#define HARRIER_UNPOISON(p, n) ((void)(p), (void)(n))
#endif
