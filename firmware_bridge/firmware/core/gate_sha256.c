#include "gate_sha256.h"

#include <string.h>

static const uint32_t K[64] = {
	0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
	0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
	0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
	0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
	0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
	0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
	0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
	0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static uint32_t rotr(uint32_t x, unsigned n) { return (x >> n) | (x << (32u - n)); }

static void compress(uint32_t h[8], const uint8_t block[64])
{
	uint32_t w[64];
	uint32_t a, b, c, d, e, f, g, hh;

	for (int i = 0; i < 16; i++)
		w[i] = ((uint32_t)block[4 * i] << 24) | ((uint32_t)block[4 * i + 1] << 16) |
		       ((uint32_t)block[4 * i + 2] << 8) | (uint32_t)block[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t S1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25);
		uint32_t ch = (e & f) ^ (~e & g);
		uint32_t t1 = hh + S1 + ch + K[i] + w[i];
		uint32_t S0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22);
		uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
		uint32_t t2 = S0 + maj;
		hh = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
}

void gate_sha256_init(struct gate_sha256 *s)
{
	static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
				       0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
	memcpy(s->h, iv, sizeof(iv));
	s->total_len = 0;
	s->block_len = 0;
}

void gate_sha256_update(struct gate_sha256 *s, const uint8_t *data, size_t len)
{
	s->total_len += len;
	while (len > 0) {
		size_t take = GATE_SHA256_BLOCK_LEN - s->block_len;
		if (take > len)
			take = len;
		memcpy(s->block + s->block_len, data, take);
		s->block_len += take;
		data += take;
		len -= take;
		if (s->block_len == GATE_SHA256_BLOCK_LEN) {
			compress(s->h, s->block);
			s->block_len = 0;
		}
	}
}

void gate_sha256_final(struct gate_sha256 *s, uint8_t out[GATE_SHA256_LEN])
{
	uint64_t bits = s->total_len * 8u;

	s->block[s->block_len++] = 0x80;
	if (s->block_len > 56) {
		memset(s->block + s->block_len, 0, GATE_SHA256_BLOCK_LEN - s->block_len);
		compress(s->h, s->block);
		s->block_len = 0;
	}
	memset(s->block + s->block_len, 0, 56 - s->block_len);
	for (int i = 0; i < 8; i++)
		s->block[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
	compress(s->h, s->block);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
	gate_wipe(s, sizeof(*s));
}

void gate_hmac_init(struct gate_hmac *h, const uint8_t *key, size_t key_len)
{
	uint8_t k[GATE_SHA256_BLOCK_LEN];
	uint8_t pad[GATE_SHA256_BLOCK_LEN];

	memset(k, 0, sizeof(k));
	if (key_len > GATE_SHA256_BLOCK_LEN) {
		struct gate_sha256 kh;
		gate_sha256_init(&kh);
		gate_sha256_update(&kh, key, key_len);
		gate_sha256_final(&kh, k);
	} else if (key_len > 0) {
		memcpy(k, key, key_len);
	}
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(k[i] ^ 0x36u);
	gate_sha256_init(&h->inner);
	gate_sha256_update(&h->inner, pad, sizeof(pad));
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(k[i] ^ 0x5cu);
	gate_sha256_init(&h->outer);
	gate_sha256_update(&h->outer, pad, sizeof(pad));
	gate_wipe(k, sizeof(k));
	gate_wipe(pad, sizeof(pad));
}

void gate_hmac_update(struct gate_hmac *h, const uint8_t *data, size_t len)
{
	gate_sha256_update(&h->inner, data, len);
}

void gate_hmac_final(struct gate_hmac *h, uint8_t out[GATE_SHA256_LEN])
{
	uint8_t inner[GATE_SHA256_LEN];

	gate_sha256_final(&h->inner, inner);
	gate_sha256_update(&h->outer, inner, sizeof(inner));
	gate_sha256_final(&h->outer, out);
	gate_wipe(inner, sizeof(inner));
}

int gate_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t diff = 0;

	for (size_t i = 0; i < n; i++)
		diff |= (uint8_t)(a[i] ^ b[i]);
	return diff == 0;
}

void gate_wipe(void *p, size_t n)
{
	volatile uint8_t *v = (volatile uint8_t *)p;

	while (n--)
		*v++ = 0;
}
