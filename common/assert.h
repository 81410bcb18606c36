/* Always-on assertions for O(1) invariants, debug-only ones for expensive
 * checks, and compile-time checks for wire sizes. Never use these on input
 * from the network or the disk: validate that and return an error instead. */
#ifndef CAIRN_COMMON_ASSERT_H
#define CAIRN_COMMON_ASSERT_H

#include <stdnoreturn.h>

noreturn void cairn__assert_fail(const char *expr, const char *file, int line, const char *func);

#define CAIRN_ASSERT(expr)                                                                 \
    ((expr) ? (void)0 : cairn__assert_fail(#expr, __FILE__, __LINE__, __func__))

#ifdef CAIRN_DEBUG
#define CAIRN_DEBUG_ASSERT(expr) CAIRN_ASSERT(expr)
#else
#define CAIRN_DEBUG_ASSERT(expr) ((void)0)
#endif

#define CAIRN_STATIC_ASSERT(expr, msg) _Static_assert(expr, msg)

#define CAIRN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CAIRN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CAIRN_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CAIRN_ALIGN_UP(x, a) ((((x) + (a) - 1) / (a)) * (a))
#define CAIRN_ALIGN_DOWN(x, a) (((x) / (a)) * (a))

#endif
