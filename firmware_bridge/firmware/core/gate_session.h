/*
 * Session layer: key derivation and controller nonces (PROTOCOL.md section 3).
 *   SK = HMAC-SHA256(K, "biogate gate session v2" || host_nonce || ctrl_nonce)
 *   Nc = SHA-256("biogate gate nonce v2" || entropy[32] || boot_count u32 || handshake u32)[:16]
 */
#ifndef BIOGATE_GATE_SESSION_H
#define BIOGATE_GATE_SESSION_H
#include <stddef.h>
#include <stdint.h>

#include "gate.h"

#define GATE_SESSION_LABEL "biogate gate session v2"
#define GATE_NONCE_LABEL "biogate gate nonce v2"

/** One session: the nonces it was derived from, its key and the two counters. */
struct gate_session {
	int valid;
	uint32_t id; /* ctrl_nonce bytes 0..3, little-endian */
	uint8_t host_nonce[GATE_NONCE_LEN];
	uint8_t ctrl_nonce[GATE_NONCE_LEN];
	uint8_t key[GATE_SESSION_KEY_LEN];
	uint32_t rx_counter; /* last host counter accepted */
	uint32_t tx_counter; /* last controller counter sent */
};

/** Derive the session key from the long-term key and both nonces. */
void gate_session_derive(const uint8_t key[GATE_KEY_LEN], const uint8_t host_nonce[GATE_NONCE_LEN],
			 const uint8_t ctrl_nonce[GATE_NONCE_LEN], uint8_t out[GATE_SESSION_KEY_LEN]);

/** Controller nonce from fresh entropy plus the boot and handshake counts (never repeats). */
void gate_session_nonce(const uint8_t entropy[GATE_ENTROPY_LEN], uint32_t boot_count, uint32_t handshake,
			uint8_t out[GATE_NONCE_LEN]);

/** Fill in a pending session from both nonces (counters at 0). */
void gate_session_open(struct gate_session *s, const uint8_t key[GATE_KEY_LEN],
		       const uint8_t host_nonce[GATE_NONCE_LEN], const uint8_t ctrl_nonce[GATE_NONCE_LEN]);

/** Forget a session; its key is wiped. */
void gate_session_close(struct gate_session *s);
#endif
