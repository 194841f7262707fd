/* COBS (Consistent Overhead Byte Stuffing) on caller-owned buffers, no allocation. */
#ifndef BIOGATE_GATE_COBS_H
#define BIOGATE_GATE_COBS_H
#include <stddef.h>
#include <stdint.h>

/**
 * Encode src[0..len) into dst (no trailing 0x00 delimiter is written).
 * @retval encoded length, or -1 if dst_cap is too small.
 */
int gate_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);

/**
 * Decode one COBS block (without its delimiter) into dst.
 * @retval decoded length, -1 if the block is malformed (a zero byte, or a code that runs
 *         past the end), -2 if dst_cap is too small.
 */
int gate_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap);
#endif
