/*
 * Receive path: frame checks, the handshake (HELLO -> CHALLENGE, promotion of the pending
 * session on the first frame that verifies under it), session frames with per-session
 * counters and de-duplication, and command execution.
 */
#include <string.h>

#include "gate_common.h"
#include "gate_frame.h"
#include "gate_sha256.h"

static uint8_t nak_code(int err)
{
	switch (err) {
	case GATE_ERR_VERSION:
		return GATE_NAK_VERSION;
	case GATE_ERR_TYPE:
		return GATE_NAK_TYPE;
	case GATE_ERR_LENGTH:
		return GATE_NAK_LENGTH;
	case GATE_ERR_REPLAY:
		return GATE_NAK_REPLAY;
	case GATE_ERR_ENTROPY:
		return GATE_NAK_ENTROPY;
	case GATE_ERR_TAG:
	case GATE_ERR_NO_SESSION:
		return GATE_NAK_NO_SESSION;
	default:
		return GATE_NAK_VALUE;
	}
}

static void refuse(struct gate *g, const struct gate_frame *f, int err)
{
	uint8_t ref[GATE_REF_LEN];

	g->frames_rejected++;
	gate_trace_ev(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-err, 0);
	gate_frame_ref(f, ref);
	gate_send_refuse(g, f->seq, nak_code(err), ref);
}

static void send_challenge(struct gate *g, uint16_t seq)
{
	gate_send_raw(g, GATE_MSG_CHALLENGE, seq, g->pending.ctrl_nonce, GATE_NONCE_LEN, g->pending.key);
}

/* HELLO: offer a new session. The current one stays usable until a frame confirms the new one,
 * so an unauthenticated HELLO can never tear a working session down. */
static void handle_hello(struct gate *g, const struct gate_frame *f)
{
	uint8_t entropy[GATE_ENTROPY_LEN], nonce[GATE_NONCE_LEN];

	if (g->pending.valid && gate_ct_equal(g->pending.host_nonce, f->payload, GATE_NONCE_LEN)) {
		send_challenge(g, f->seq); /* a retransmitted HELLO: the same challenge again */
		return;
	}
	if (g->hal.random(g->hal.ctx, entropy, (int)sizeof(entropy)) != (int)sizeof(entropy)) {
		/* No fresh challenge, no session: nothing can open the door. */
		g->faults |= GATE_FAULT_ENTROPY;
		gate_wipe(entropy, sizeof(entropy));
		refuse(g, f, GATE_ERR_ENTROPY);
		return;
	}
	g->handshakes++;
	gate_session_nonce(entropy, g->boot_count, g->handshakes, nonce);
	gate_wipe(entropy, sizeof(entropy));
	gate_session_close(&g->pending);
	gate_session_open(&g->pending, g->key, f->payload, nonce);
	g->frames_ok++;
	gate_trace_ev(g, GATE_TRACE_CHALLENGE, f->seq, g->pending.id, g->handshakes);
	send_challenge(g, f->seq);
}

/* Run a command whose session, tag and counter were accepted. @retval 0 ok, else NAK code. */
static uint8_t execute(struct gate *g, const struct gate_frame *f)
{
	const uint8_t *p = f->payload;
	uint32_t now = gate_now_ms(g);

	switch (f->type) {
	case GATE_MSG_OPEN: {
		uint32_t duration = gate_get_u16(p);
		uint32_t deadline;
		if (duration == 0 || duration > g->max_open_ms)
			return GATE_NAK_VALUE;
		gate_set_relay(g, 1, GATE_RELAY_CMD_OPEN);
		/* Consecutive OPENs extend the window but never past max_open_ms of continuous opening. */
		deadline = now + duration;
		if ((int32_t)(deadline - (g->relay_opened_ms + g->max_open_ms)) > 0)
			deadline = g->relay_opened_ms + g->max_open_ms;
		g->relay_deadline_ms = deadline;
		return 0;
	}
	case GATE_MSG_DENY:
		gate_set_relay(g, 0, GATE_RELAY_DENY);
		return 0;
	case GATE_MSG_ALARM:
		gate_set_relay(g, 0, GATE_RELAY_ALARM);
		if (g->hal.alarm)
			g->hal.alarm(g->hal.ctx, p[0]);
		return 0;
	default:
		return GATE_NAK_TYPE;
	}
}

static int is_command(uint8_t type)
{
	return type == GATE_MSG_OPEN || type == GATE_MSG_DENY || type == GATE_MSG_ALARM;
}

/* Answer a frame of the current session that was accepted (or is a retransmission of one). */
static void answer(struct gate *g, const struct gate_frame *f, uint32_t counter, int dup)
{
	if (f->type == GATE_MSG_HEARTBEAT) {
		gate_send_ack(g, f->seq, counter);
	} else if (f->type == GATE_MSG_STATUS_REQ) {
		gate_send_status(g, f->seq);
	} else if (dup) {
		if (g->last_resp_type == GATE_MSG_ACK)
			gate_send_ack(g, f->seq, counter);
		else
			gate_send_nak(g, f->seq, g->last_resp_code, counter);
	} else {
		uint8_t code = execute(g, f);
		g->last_resp_type = code ? GATE_MSG_NAK : GATE_MSG_ACK;
		g->last_resp_code = code;
		if (code == 0) {
			gate_trace_ev(g, GATE_TRACE_EXEC, f->seq, f->type, counter);
			gate_send_ack(g, f->seq, counter);
		} else {
			gate_trace_ev(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-GATE_ERR_VALUE, counter);
			gate_send_nak(g, f->seq, code, counter);
		}
	}
}

static void handle_session_frame(struct gate *g, const struct gate_frame *f)
{
	const uint8_t *tag = f->raw + f->signed_len;
	uint32_t counter;

	if (!(g->active.valid && gate_frame_verify_tag(f, g->active.key))) {
		if (!(g->pending.valid && gate_frame_verify_tag(f, g->pending.key))) {
			/* Not ours: no session since reset, an older session, another host, a forgery. */
			refuse(g, f, g->active.valid || g->pending.valid ? GATE_ERR_TAG : GATE_ERR_NO_SESSION);
			return;
		}
		/* The host proved it holds the pending session's key: that session is now the one. */
		gate_session_close(&g->active);
		g->active = g->pending;
		memset(&g->pending, 0, sizeof(g->pending));
		g->have_last = 0;
		gate_trace_ev(g, GATE_TRACE_SESSION, f->seq, g->active.id, g->handshakes);
	}
	g->link_seen = 1;
	g->last_rx_ms = gate_now_ms(g);
	counter = gate_frame_counter(f);
	if (g->have_last && counter == g->active.rx_counter && f->seq == g->last_seq && f->type == g->last_type &&
	    gate_ct_equal(tag, g->last_tag, GATE_TAG_LEN)) {
		/* A retransmission of the frame already accepted: answer again, run nothing. */
		if (is_command(f->type))
			gate_trace_ev(g, GATE_TRACE_DUP, f->seq, f->type, counter);
		answer(g, f, counter, 1);
		return;
	}
	if (counter <= g->active.rx_counter) {
		g->frames_rejected++;
		gate_trace_ev(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-GATE_ERR_REPLAY, counter);
		gate_send_nak(g, f->seq, GATE_NAK_REPLAY, counter);
		return;
	}
	g->active.rx_counter = counter;
	g->have_last = 1;
	g->last_seq = f->seq;
	g->last_type = f->type;
	memcpy(g->last_tag, tag, GATE_TAG_LEN);
	g->frames_ok++;
	answer(g, f, counter, 0);
}

void gate_handle_block(struct gate *g, const uint8_t *wire, size_t len)
{
	struct gate_frame f;
	int err;

	memset(&f, 0, sizeof(f));
	err = gate_frame_decode(wire, len, g->scratch, sizeof(g->scratch), &f);
	if (err != GATE_OK) {
		/* Below the CRC nothing in the frame can be trusted, not even its seq: stay silent. */
		if (err == GATE_ERR_VERSION || err == GATE_ERR_TYPE || err == GATE_ERR_LENGTH) {
			refuse(g, &f, err);
		} else {
			g->frames_rejected++;
			gate_trace_ev(g, GATE_TRACE_REJECT, f.seq, (uint32_t)-err, 0);
		}
		return;
	}
	if (f.type == GATE_MSG_HELLO)
		handle_hello(g, &f);
	else if (f.type < GATE_MSG_ACK && gate_msg_has_counter(f.type))
		handle_session_frame(g, &f);
	else
		refuse(g, &f, GATE_ERR_TYPE); /* a controller-to-host type sent to the controller */
}
