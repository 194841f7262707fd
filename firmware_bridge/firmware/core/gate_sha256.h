/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), streaming, no allocation. */
#ifndef BIOGATE_GATE_SHA256_H
#define BIOGATE_GATE_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define GATE_SHA256_LEN 32u
#define GATE_SHA256_BLOCK_LEN 64u

struct gate_sha256 {
	uint32_t h[8];
	uint64_t total_len;
	uint8_t block[GATE_SHA256_BLOCK_LEN];
	size_t block_len;
};

void gate_sha256_init(struct gate_sha256 *s);
void gate_sha256_update(struct gate_sha256 *s, const uint8_t *data, size_t len);
void gate_sha256_final(struct gate_sha256 *s, uint8_t out[GATE_SHA256_LEN]);

struct gate_hmac {
	struct gate_sha256 inner;
	struct gate_sha256 outer;
};

void gate_hmac_init(struct gate_hmac *h, const uint8_t *key, size_t key_len);
void gate_hmac_update(struct gate_hmac *h, const uint8_t *data, size_t len);
void gate_hmac_final(struct gate_hmac *h, uint8_t out[GATE_SHA256_LEN]);

/** Compare n bytes in time independent of where they differ. @retval 1 equal, 0 not. */
int gate_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

/** Overwrite n bytes with zeros in a way the optimiser will not drop. */
void gate_wipe(void *p, size_t n);
#endif
