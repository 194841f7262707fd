/*
 * Gate controller state machine: framing input, authenticated command execution with
 * replay protection and de-duplication, fail-safe timers, door/tamper events.
 */
#include <string.h>

#include "gate.h"
#include "gate_config.h"
#include "gate_frame.h"
#include "gate_sha256.h"

#define EVENT_QUEUE_LEN 8

struct gate {
	int in_use;
	struct gate_hal hal;
	uint8_t key[GATE_KEY_LEN];
	uint32_t hb_timeout_ms, max_open_ms, door_held_ms;
	uint32_t boot_ms;

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

	/* replay protection and de-duplication of the last accepted command */
	uint32_t last_counter;
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

	uint8_t events[EVENT_QUEUE_LEN];
	int ev_head, ev_count;

	uint32_t frames_ok, frames_rejected, tx_dropped;
};

static struct gate g_pool[GATE_MAX_INSTANCES];

static uint32_t now_ms(const struct gate *g) { return g->hal.millis(g->hal.ctx); }

/* Wrap-safe "a is at or after b" for 32-bit millisecond clocks. */
static int time_reached(uint32_t now, uint32_t deadline) { return (int32_t)(now - deadline) >= 0; }

static void trace(struct gate *g, int kind, uint16_t seq, uint32_t a, uint32_t b)
{
	struct gate_trace ev;

	if (g->hal.trace == NULL)
		return;
	ev.kind = kind;
	ev.seq = seq;
	ev.a = a;
	ev.b = b;
	ev.now_ms = now_ms(g) - g->boot_ms;
	g->hal.trace(g->hal.ctx, &ev);
}

static void set_relay(struct gate *g, int on, int reason)
{
	if (g->relay_open == on)
		return;
	g->relay_open = on;
	g->hal.relay_set(g->hal.ctx, on);
	if (on) {
		g->relay_opened_ms = now_ms(g);
	} else {
		g->relay_closed_ms = now_ms(g);
		g->door_held_reported = 0; /* a new held-open period starts now */
	}
	trace(g, GATE_TRACE_RELAY, 0, (uint32_t)on, (uint32_t)reason);
}

static int flush_tx(struct gate *g)
{
	while (g->tx_off < g->tx_len) {
		int n = g->hal.send(g->hal.ctx, g->tx_buf + g->tx_off, (int)(g->tx_len - g->tx_off));
		if (n < 0) {
			g->io_error = 1;
			g->tx_len = g->tx_off = 0;
			return GATE_ERR_IO;
		}
		if (n == 0)
			return 0; /* HAL busy: retry on the next refresh */
		g->tx_off += (size_t)n;
	}
	g->tx_len = g->tx_off = 0;
	return 1;
}

static void send_frame(struct gate *g, uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len)
{
	int n;

	if (g->tx_len && flush_tx(g) <= 0) {
		g->tx_dropped++; /* the host retries; a lost reply is not a safety issue */
		return;
	}
	n = gate_frame_build(type, seq, body, body_len, g->key, g->tx_buf, sizeof(g->tx_buf));
	if (n < 0)
		return;
	g->tx_len = (size_t)n;
	g->tx_off = 0;
	flush_tx(g);
}

static void send_ack(struct gate *g, uint16_t seq, uint32_t counter)
{
	uint8_t body[GATE_COUNTER_LEN];

	gate_put_u32(body, counter);
	send_frame(g, GATE_MSG_ACK, seq, body, sizeof(body));
}

static void send_nak(struct gate *g, uint16_t seq, uint8_t code)
{
	uint8_t body[1 + GATE_COUNTER_LEN];

	body[0] = code;
	gate_put_u32(body + 1, g->last_counter); /* lets the host resynchronise its counter */
	send_frame(g, GATE_MSG_NAK, seq, body, sizeof(body));
}

static void send_status(struct gate *g, uint16_t seq)
{
	uint8_t body[14];

	body[0] = (uint8_t)g->relay_open;
	body[1] = (uint8_t)g->door_open;
	gate_put_u16(body + 2, g->faults);
	gate_put_u16(body + 4, GATE_FW_VERSION);
	gate_put_u32(body + 6, now_ms(g) - g->boot_ms);
	gate_put_u32(body + 10, g->last_counter);
	send_frame(g, GATE_MSG_STATUS, seq, body, sizeof(body));
	g->faults = 0; /* latched flags are cleared once reported */
}

static void queue_event(struct gate *g, uint8_t kind, uint16_t fault)
{
	g->faults |= fault;
	trace(g, GATE_TRACE_EVENT, 0, kind, 0);
	if (g->ev_count == EVENT_QUEUE_LEN)
		return; /* still latched in the fault flags, visible through STATUS */
	g->events[(g->ev_head + g->ev_count) % EVENT_QUEUE_LEN] = kind;
	g->ev_count++;
}

static void send_events(struct gate *g)
{
	while (g->ev_count > 0 && g->tx_len == 0) {
		uint8_t body[5];
		body[0] = g->events[g->ev_head];
		gate_put_u32(body + 1, now_ms(g) - g->boot_ms);
		g->ev_head = (g->ev_head + 1) % EVENT_QUEUE_LEN;
		g->ev_count--;
		send_frame(g, GATE_MSG_EVENT, g->event_seq++, body, sizeof(body));
	}
}

static uint8_t nak_code(int err)
{
	switch (err) {
	case GATE_ERR_VERSION:
		return GATE_NAK_VERSION;
	case GATE_ERR_TYPE:
		return GATE_NAK_TYPE;
	case GATE_ERR_LENGTH:
		return GATE_NAK_LENGTH;
	case GATE_ERR_TAG:
		return GATE_NAK_TAG;
	case GATE_ERR_REPLAY:
		return GATE_NAK_REPLAY;
	default:
		return GATE_NAK_VALUE;
	}
}

/* Run an authenticated command whose tag and counter were accepted. @retval 0 ok, else NAK code. */
static uint8_t execute(struct gate *g, const struct gate_frame *f)
{
	const uint8_t *p = f->payload;
	uint32_t now = now_ms(g);

	switch (f->type) {
	case GATE_MSG_OPEN: {
		uint32_t duration = gate_get_u16(p);
		uint32_t deadline;
		if (duration == 0 || duration > g->max_open_ms)
			return GATE_NAK_VALUE;
		set_relay(g, 1, GATE_RELAY_CMD_OPEN);
		/* Consecutive OPENs extend the window but never past max_open_ms of continuous opening. */
		deadline = now + duration;
		if ((int32_t)(deadline - (g->relay_opened_ms + g->max_open_ms)) > 0)
			deadline = g->relay_opened_ms + g->max_open_ms;
		g->relay_deadline_ms = deadline;
		return 0;
	}
	case GATE_MSG_DENY:
		set_relay(g, 0, GATE_RELAY_DENY);
		return 0;
	case GATE_MSG_ALARM:
		set_relay(g, 0, GATE_RELAY_ALARM);
		if (g->hal.alarm)
			g->hal.alarm(g->hal.ctx, p[0]);
		return 0;
	default:
		return GATE_NAK_TYPE;
	}
}

static void handle_authenticated(struct gate *g, const struct gate_frame *f)
{
	const uint8_t *tag = f->raw + f->signed_len;
	uint32_t counter;
	uint8_t code;

	if (!gate_frame_verify_tag(f, g->key)) {
		g->frames_rejected++;
		trace(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-GATE_ERR_TAG, 0);
		send_nak(g, f->seq, GATE_NAK_TAG);
		return;
	}
	g->link_seen = 1;
	g->last_rx_ms = now_ms(g);
	counter = gate_frame_counter(f);
	if (g->have_last && counter == g->last_counter && f->seq == g->last_seq && f->type == g->last_type &&
	    gate_ct_equal(tag, g->last_tag, GATE_TAG_LEN)) {
		/* A retransmission of the command already run: answer again, run nothing. */
		trace(g, GATE_TRACE_DUP, f->seq, f->type, counter);
		if (g->last_resp_type == GATE_MSG_ACK)
			send_ack(g, f->seq, counter);
		else
			send_nak(g, f->seq, g->last_resp_code);
		return;
	}
	if (counter <= g->last_counter) {
		g->frames_rejected++;
		trace(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-GATE_ERR_REPLAY, counter);
		send_nak(g, f->seq, GATE_NAK_REPLAY);
		return;
	}
	if (g->hal.counter_store && g->hal.counter_store(g->hal.ctx, counter) < 0) {
		/* Could not persist the counter: refuse rather than open a replay window after reboot. */
		g->frames_rejected++;
		send_nak(g, f->seq, GATE_NAK_VALUE);
		return;
	}
	g->last_counter = counter;
	g->have_last = 1;
	g->last_seq = f->seq;
	g->last_type = f->type;
	memcpy(g->last_tag, tag, GATE_TAG_LEN);
	code = execute(g, f);
	g->frames_ok++;
	if (code == 0) {
		trace(g, GATE_TRACE_EXEC, f->seq, f->type, counter);
		g->last_resp_type = GATE_MSG_ACK;
		send_ack(g, f->seq, counter);
	} else {
		trace(g, GATE_TRACE_REJECT, f->seq, (uint32_t)-GATE_ERR_VALUE, counter);
		g->last_resp_type = GATE_MSG_NAK;
		g->last_resp_code = code;
		send_nak(g, f->seq, code);
	}
}

static void handle_block(struct gate *g, const uint8_t *wire, size_t len)
{
	struct gate_frame f;
	int err;

	memset(&f, 0, sizeof(f));
	err = gate_frame_decode(wire, len, g->scratch, sizeof(g->scratch), &f);

	if (err != GATE_OK) {
		g->frames_rejected++;
		trace(g, GATE_TRACE_REJECT, f.seq, (uint32_t)-err, 0);
		/* Below the CRC nothing in the frame can be trusted, not even its seq: stay silent. */
		if (err == GATE_ERR_VERSION || err == GATE_ERR_TYPE || err == GATE_ERR_LENGTH)
			send_nak(g, f.seq, nak_code(err));
		return;
	}
	if (gate_msg_has_counter(f.type)) {
		handle_authenticated(g, &f);
		return;
	}
	g->frames_ok++;
	g->link_seen = 1;
	g->last_rx_ms = now_ms(g);
	switch (f.type) {
	case GATE_MSG_HEARTBEAT:
		send_ack(g, f.seq, 0);
		break;
	case GATE_MSG_STATUS_REQ:
		send_status(g, f.seq);
		break;
	default: /* a controller-to-host type sent to the controller */
		g->frames_ok--;
		g->frames_rejected++;
		trace(g, GATE_TRACE_REJECT, f.seq, (uint32_t)-GATE_ERR_TYPE, 0);
		send_nak(g, f.seq, GATE_NAK_TYPE);
		break;
	}
}

static void feed(struct gate *g, const uint8_t *data, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (data[i] == 0) {
			if (g->rx_overflow) {
				g->frames_rejected++;
				trace(g, GATE_TRACE_REJECT, 0, (uint32_t)-GATE_ERR_OVERSIZE, 0);
			} else if (g->rx_len > 0) {
				handle_block(g, g->rx_buf, g->rx_len);
			}
			g->rx_len = 0;
			g->rx_overflow = 0;
		} else if (g->rx_len < sizeof(g->rx_buf)) {
			g->rx_buf[g->rx_len++] = data[i];
		} else {
			g->rx_overflow = 1; /* drop bytes until the next delimiter */
		}
	}
}

static void run_timers(struct gate *g)
{
	uint32_t now = now_ms(g), since;
	int door, tamper;

	if (g->relay_open) {
		if (time_reached(now, g->relay_deadline_ms) ||
		    time_reached(now, g->relay_opened_ms + g->max_open_ms)) {
			set_relay(g, 0, GATE_RELAY_EXPIRED);
		} else if (g->link_seen && time_reached(now, g->last_rx_ms + g->hb_timeout_ms)) {
			set_relay(g, 0, GATE_RELAY_HEARTBEAT_LOST);
			g->faults |= GATE_FAULT_HEARTBEAT_LOST;
		}
	}
	door = g->hal.door_is_open(g->hal.ctx);
	if (door < 0) {
		g->faults |= GATE_FAULT_SENSOR;
	} else {
		if (door && !g->door_open) {
			g->door_opened_ms = now;
			g->door_held_reported = 0;
			if (!g->relay_open)
				queue_event(g, GATE_EVENT_DOOR_FORCED, GATE_FAULT_DOOR_FORCED);
		}
		g->door_open = door;
		/* Held open: still open door_held_ms after it opened or the relay closed, whichever is later. */
		since = (int32_t)(g->relay_closed_ms - g->door_opened_ms) > 0 ? g->relay_closed_ms : g->door_opened_ms;
		if (door && !g->relay_open && !g->door_held_reported && time_reached(now, since + g->door_held_ms)) {
			g->door_held_reported = 1;
			queue_event(g, GATE_EVENT_DOOR_HELD_OPEN, GATE_FAULT_DOOR_HELD_OPEN);
		}
	}
	tamper = g->hal.tamper ? g->hal.tamper(g->hal.ctx) : 0;
	if (tamper > 0 && !g->tamper)
		queue_event(g, GATE_EVENT_TAMPER, GATE_FAULT_TAMPER);
	g->tamper = tamper > 0;
}

gate_t *gate_init(const struct gate_config *config, const struct gate_hal *hal)
{
	struct gate *g = NULL;

	if (config == NULL || hal == NULL || hal->send == NULL || hal->recv == NULL || hal->millis == NULL ||
	    hal->relay_set == NULL || hal->door_is_open == NULL)
		return NULL;
	for (int i = 0; i < GATE_MAX_INSTANCES; i++) {
		if (!g_pool[i].in_use) {
			g = &g_pool[i];
			break;
		}
	}
	if (g == NULL)
		return NULL;
	memset(g, 0, sizeof(*g));
	g->in_use = 1;
	g->hal = *hal;
	memcpy(g->key, config->key, GATE_KEY_LEN);
	g->hb_timeout_ms = config->heartbeat_timeout_ms ? config->heartbeat_timeout_ms : GATE_HEARTBEAT_TIMEOUT_MS;
	g->max_open_ms = config->max_open_ms ? config->max_open_ms : GATE_MAX_OPEN_MS;
	if (g->max_open_ms > 0xFFFFu)
		g->max_open_ms = 0xFFFFu; /* the OPEN duration field is 16 bits */
	g->door_held_ms = config->door_held_ms ? config->door_held_ms : GATE_DOOR_HELD_MS;
	g->boot_ms = now_ms(g);
	g->relay_closed_ms = g->boot_ms;
	if (hal->counter_load && hal->counter_load(hal->ctx, &g->last_counter) < 0)
		g->last_counter = 0;
	g->hal.relay_set(g->hal.ctx, 0); /* fail-safe default, whatever the pin did at reset */
	queue_event(g, GATE_EVENT_POWER, GATE_FAULT_POWER);
	return g;
}

void gate_deinit(gate_t *gate)
{
	struct gate *g = (struct gate *)gate;

	if (g == NULL || !g->in_use)
		return;
	set_relay(g, 0, GATE_RELAY_EXPIRED);
	gate_wipe(g, sizeof(*g));
}

int gate_refresh(gate_t *gate)
{
	struct gate *g = (struct gate *)gate;
	uint8_t chunk[GATE_RX_CHUNK_LEN];
	int n;

	if (g == NULL || !g->in_use)
		return GATE_ERR_ARG;
	if (g->tx_len)
		flush_tx(g);
	n = g->hal.recv(g->hal.ctx, chunk, (int)sizeof(chunk));
	if (n < 0)
		g->io_error = 1;
	else if (n > 0)
		feed(g, chunk, (size_t)n);
	run_timers(g);
	send_events(g);
	if (g->io_error) {
		g->io_error = 0;
		return GATE_ERR_IO;
	}
	return GATE_OK;
}

int gate_get_status(const gate_t *gate, struct gate_status *out)
{
	const struct gate *g = (const struct gate *)gate;

	if (g == NULL || out == NULL || !g->in_use)
		return GATE_ERR_ARG;
	out->relay_open = (uint8_t)g->relay_open;
	out->door_open = (uint8_t)g->door_open;
	out->faults = g->faults;
	out->uptime_ms = g->hal.millis(g->hal.ctx) - g->boot_ms;
	out->last_counter = g->last_counter;
	out->frames_ok = g->frames_ok;
	out->frames_rejected = g->frames_rejected;
	return GATE_OK;
}

const char *gate_strerror(int err)
{
	switch (err) {
	case GATE_OK: return "ok";
	case GATE_ERR_ARG: return "arg";
	case GATE_ERR_NO_SLOT: return "no_slot";
	case GATE_ERR_IO: return "io";
	case GATE_ERR_COBS: return "cobs";
	case GATE_ERR_SHORT: return "short";
	case GATE_ERR_OVERSIZE: return "oversize";
	case GATE_ERR_CRC: return "crc";
	case GATE_ERR_VERSION: return "version";
	case GATE_ERR_LENGTH: return "length";
	case GATE_ERR_TYPE: return "type";
	case GATE_ERR_TAG: return "tag";
	case GATE_ERR_REPLAY: return "replay";
	case GATE_ERR_VALUE: return "value";
	default: return "unknown";
	}
}
