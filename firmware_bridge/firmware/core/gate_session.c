#include "gate_session.h"

#include <string.h>

#include "gate_frame.h"
#include "gate_sha256.h"

void gate_session_derive(const uint8_t key[GATE_KEY_LEN], const uint8_t host_nonce[GATE_NONCE_LEN],
			 const uint8_t ctrl_nonce[GATE_NONCE_LEN], uint8_t out[GATE_SESSION_KEY_LEN])
{
	struct gate_hmac h;

	gate_hmac_init(&h, key, GATE_KEY_LEN);
	gate_hmac_update(&h, (const uint8_t *)GATE_SESSION_LABEL, sizeof(GATE_SESSION_LABEL) - 1);
	gate_hmac_update(&h, host_nonce, GATE_NONCE_LEN);
	gate_hmac_update(&h, ctrl_nonce, GATE_NONCE_LEN);
	gate_hmac_final(&h, out);
	gate_wipe(&h, sizeof(h));
}

void gate_session_nonce(const uint8_t entropy[GATE_ENTROPY_LEN], uint32_t boot_count, uint32_t handshake,
			uint8_t out[GATE_NONCE_LEN])
{
	struct gate_sha256 s;
	uint8_t counts[8], digest[GATE_SHA256_LEN];

	gate_put_u32(counts, boot_count);
	gate_put_u32(counts + 4, handshake);
	gate_sha256_init(&s);
	gate_sha256_update(&s, (const uint8_t *)GATE_NONCE_LABEL, sizeof(GATE_NONCE_LABEL) - 1);
	gate_sha256_update(&s, entropy, GATE_ENTROPY_LEN);
	gate_sha256_update(&s, counts, sizeof(counts));
	gate_sha256_final(&s, digest);
	memcpy(out, digest, GATE_NONCE_LEN);
	gate_wipe(digest, sizeof(digest));
	gate_wipe(&s, sizeof(s));
}

void gate_session_open(struct gate_session *s, const uint8_t key[GATE_KEY_LEN],
		       const uint8_t host_nonce[GATE_NONCE_LEN], const uint8_t ctrl_nonce[GATE_NONCE_LEN])
{
	memset(s, 0, sizeof(*s));
	memcpy(s->host_nonce, host_nonce, GATE_NONCE_LEN);
	memcpy(s->ctrl_nonce, ctrl_nonce, GATE_NONCE_LEN);
	gate_session_derive(key, host_nonce, ctrl_nonce, s->key);
	s->id = gate_get_u32(ctrl_nonce);
	s->valid = 1;
}

void gate_session_close(struct gate_session *s) { gate_wipe(s, sizeof(*s)); }
