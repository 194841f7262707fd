/* Mock HAL and a minimal host for the C unit tests: clock, UART, relay, door, NV storage and
 * entropy are plain variables; the host side handshakes and signs frames like GateClient. */
#ifndef BIOGATE_MOCK_HAL_H
#define BIOGATE_MOCK_HAL_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gate.h"
#include "gate_config.h"
#include "gate_frame.h"

extern int g_checks, g_failures;
extern uint8_t g_key[GATE_KEY_LEN];

#define CHECK(cond)                                                                              \
	do {                                                                                     \
		g_checks++;                                                                      \
		if (!(cond)) {                                                                   \
			g_failures++;                                                            \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                                \
	} while (0)

struct mock {
	uint32_t now;
	uint8_t rx[4096];
	size_t rx_len, rx_off;
	uint8_t tx[8192];
	size_t tx_len, tx_read;
	int relay, relay_opens, door, tamper, alarm;
	uint32_t nv;
	int nv_missing, nv_fail_store, random_fail, random_calls;
	int execs, dups, rejects, last_reject, sessions;
	int send_limit; /* accept at most this many bytes per send call (0 = all) */
	int no_nv;      /* build the gate without boot_count hooks */
	int no_random;  /* ... or without the random hook */
	/* host side of the current session */
	uint8_t sk[GATE_SESSION_KEY_LEN];
	uint32_t counter;
	uint32_t session_id;
};

gate_t *make_gate(struct mock *m, uint32_t hb_ms, uint32_t max_open_ms);
void feed(struct mock *m, const uint8_t *wire, size_t len);
void pump(gate_t *g, struct mock *m);
void advance(gate_t *g, struct mock *m, uint32_t ms);
void drain(struct mock *m);
/* Pop the next controller frame; @retval its type, -1 if none, -2 if it does not verify
 * (REFUSE under g_key, CHALLENGE and session frames under the mock's session key). */
int pop_reply(struct mock *m, uint8_t *scratch, struct gate_frame *f);
/* Handshake with the given host nonce seed; @retval 1 if a verified CHALLENGE came back. */
int open_session(gate_t *g, struct mock *m, uint8_t seed, uint16_t seq);
/* Sign and queue a session frame under the mock's session key with this counter. */
int send_cmd(struct mock *m, uint8_t type, uint16_t seq, uint32_t arg, uint32_t counter);
#endif
