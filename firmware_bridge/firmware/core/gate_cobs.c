#include "gate_cobs.h"

/*
 * Encoding: each block is a code byte c (1..255) followed by c-1 non-zero bytes; a block
 * with c < 255 stands for its bytes plus one 0x00, except the last block. A run of 254
 * non-zero bytes closes a block with c = 255 (no implied zero) and always opens another,
 * so 254 non-zero bytes encode as FF <254 bytes> 01 (the decoder accepts either form).
 */
int gate_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
	size_t out = 1, code_at = 0;
	uint8_t code = 1;

	if (dst == NULL || dst_cap < 1 || (len > 0 && src == NULL))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (src[i] != 0) {
			if (out >= dst_cap)
				return -1;
			dst[out++] = src[i];
			code++;
		}
		if (src[i] == 0 || code == 0xFF) {
			dst[code_at] = code;
			code = 1;
			if (out >= dst_cap)
				return -1;
			code_at = out++;
		}
	}
	dst[code_at] = code;
	return (int)out;
}

int gate_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_cap)
{
	size_t in = 0, out = 0;

	if (src == NULL || dst == NULL || len == 0)
		return -1;
	while (in < len) {
		uint8_t code = src[in++];
		if (code == 0 || (size_t)(code - 1) > len - in)
			return -1;
		for (uint8_t k = 1; k < code; k++) {
			if (src[in] == 0)
				return -1;
			if (out >= dst_cap)
				return -2;
			dst[out++] = src[in++];
		}
		if (code != 0xFF && in < len) {
			if (out >= dst_cap)
				return -2;
			dst[out++] = 0;
		}
	}
	return (int)out;
}
