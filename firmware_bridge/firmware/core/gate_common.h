/* Internals shared by gate.c (lifecycle, timers, transmit) and gate_rx.c (receive path). */
#ifndef BIOGATE_GATE_COMMON_H
#define BIOGATE_GATE_COMMON_H
#include <stddef.h>
#include <stdint.h>

#include "gate.h"
#include "gate_config.h"
#include "gate_session.h"

struct gate_event_slot {
	uint8_t kind;
	uint32_t uptime_ms;
};

struct gate {
	int in_use;
	struct gate_hal hal;
	uint8_t key[GATE_KEY_LEN];
	uint32_t hb_timeout_ms, max_open_ms, door_held_ms;
	uint32_t boot_ms, boot_count, handshakes;

	/* sessions: the current one, and the one a CHALLENGE offered but no frame confirmed yet */
	struct gate_session active, pending;

	/* link */
	int link_seen;
	uint32_t last_rx_ms;
	uint16_t event_seq;

	/* relay and door */
	int relay_open;
	uint32_t relay_opened_ms, relay_deadline_ms, relay_closed_ms;
	int door_open, door_held_reported, tamper;
	uint32_t door_opened_ms;
	uint16_t faults;

	/* de-duplication: the last frame accepted in the current session and its answer */
	int have_last;
	uint16_t last_seq;
	uint8_t last_type;
	uint8_t last_tag[GATE_TAG_LEN];
	uint8_t last_resp_type, last_resp_code;

	/* receive: bytes of the current COBS block until its 0x00 delimiter */
	uint8_t rx_buf[GATE_COBS_MAX_LEN(GATE_MAX_FRAME_LEN)];
	size_t rx_len;
	int rx_overflow;
	uint8_t scratch[GATE_MAX_FRAME_LEN];

	/* transmit: one frame in flight (the HAL may accept it in pieces) */
	uint8_t tx_buf[GATE_MAX_WIRE_LEN];
	size_t tx_len, tx_off;
	int io_error;

	struct gate_event_slot events[GATE_EVENT_QUEUE_LEN];
	int ev_head, ev_count;

	uint32_t frames_ok, frames_rejected, tx_dropped;
};

uint32_t gate_now_ms(const struct gate *g);
void gate_trace_ev(struct gate *g, int kind, uint16_t seq, uint32_t a, uint32_t b);
void gate_set_relay(struct gate *g, int on, int reason);

/* Transmit. Session frames get the next controller counter and the session tag; nothing is
 * sent without a current session. */
void gate_send_raw(struct gate *g, uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len,
		   const uint8_t *key);
void gate_send_session(struct gate *g, uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len);
void gate_send_ack(struct gate *g, uint16_t seq, uint32_t counter);
void gate_send_nak(struct gate *g, uint16_t seq, uint8_t code, uint32_t counter);
void gate_send_status(struct gate *g, uint16_t seq);
void gate_send_refuse(struct gate *g, uint16_t seq, uint8_t code, const uint8_t ref[GATE_REF_LEN]);

/* Receive: one COBS block without its delimiter. */
void gate_handle_block(struct gate *g, const uint8_t *wire, size_t len);
#endif
