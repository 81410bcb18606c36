/* CRC-32C (Castagnoli), as used on the wire and on disk. Uses the SSE4.2
 * crc32 instruction when the CPU has it, else a portable table version.
 * Both give identical results; tests check them against the standard vectors. */
#ifndef CAIRN_COMMON_CRC32C_H
#define CAIRN_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends @crc (0 to start) over @len bytes at @buf and returns the new value.
 * crc32c(crc32c(0, a), b) == crc32c(0, a||b). */
uint32_t cairn_crc32c(uint32_t crc, const void *buf, size_t len);

/* The two implementations, exposed for tests and benchmarks. */
uint32_t cairn__crc32c_sw(uint32_t crc, const void *buf, size_t len);
uint32_t cairn__crc32c_hw(uint32_t crc, const void *buf, size_t len);
/* True when cairn__crc32c_hw can run on this CPU. */
int cairn__crc32c_hw_available(void);

#endif
