/*
 * gate.h - the one public header of the biogate gate-controller firmware.
 *
 * The core is portable C99: no dynamic allocation, no threads, no libc I/O. The platform
 * is injected through struct gate_hal (non-blocking function pointers, libosdp style) and
 * the application calls gate_refresh() at least every GATE_REFRESH_MAX_MS milliseconds.
 *
 * Wire protocol: see firmware_bridge/PROTOCOL.md (COBS frames, CRC-16/CCITT-FALSE, a
 * per-connection session opened from a fresh controller challenge, every frame after it
 * tagged with HMAC-SHA256 under the session key, truncated to GATE_TAG_LEN bytes, and
 * numbered with a per-session counter). Nothing replay protection depends on is stored:
 * sessions live in RAM, so a reset or lost NV storage can never make an old frame valid.
 *
 * Porting to a microcontroller: implement struct gate_hal. The one hook that needs care is
 * random(): it must return bytes from a real entropy source (a TRNG peripheral, e.g. the
 * STM32 RNG, nRF RNG or ESP32 esp_fill_random() with the radio or ADC noise source on),
 * never a seeded PRNG or a value derived from the clock or a chip ID.
 */
#ifndef BIOGATE_GATE_H
#define BIOGATE_GATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GATE_PROTOCOL_VERSION 2u
#define GATE_FW_VERSION 0x0200u  /* major << 8 | minor */
#define GATE_KEY_LEN 32u         /* per-device long-term key K, bytes */
#define GATE_SESSION_KEY_LEN 32u /* SK = HMAC-SHA256(K, label || host nonce || controller nonce) */
#define GATE_NONCE_LEN 16u       /* host and controller handshake nonces, bytes */
#define GATE_ENTROPY_LEN 32u     /* bytes drawn from hal.random() per challenge */
#define GATE_TAG_LEN 16u         /* HMAC-SHA256 truncated to 128 bits */
#define GATE_REF_LEN 8u          /* REFUSE: prefix of the refused frame's tag */

/** Opaque controller context (storage lives in a static pool inside the core). */
typedef void gate_t;

/** Errors: every core function returns >= 0 on success or one of these. */
enum gate_error {
	GATE_OK = 0,
	GATE_ERR_ARG = -1,        /**< NULL pointer or out-of-range argument */
	GATE_ERR_NO_SLOT = -2,    /**< all GATE_MAX_INSTANCES contexts are in use */
	GATE_ERR_IO = -3,         /**< the HAL send/recv reported a fatal error */
	GATE_ERR_COBS = -10,      /**< frame is not valid COBS */
	GATE_ERR_SHORT = -11,     /**< frame shorter than header + CRC (truncated) */
	GATE_ERR_OVERSIZE = -12,  /**< frame longer than GATE_MAX_FRAME_LEN */
	GATE_ERR_CRC = -13,       /**< CRC mismatch: never answered, never acted on */
	GATE_ERR_VERSION = -14,   /**< unsupported protocol version */
	GATE_ERR_LENGTH = -15,    /**< header length disagrees with frame or message type */
	GATE_ERR_TYPE = -16,      /**< unknown message type */
	GATE_ERR_TAG = -17,       /**< tag does not verify under the current or pending session */
	GATE_ERR_REPLAY = -18,    /**< counter not greater than the last one accepted in the session */
	GATE_ERR_VALUE = -19,     /**< a field is out of range (e.g. duration > maximum) */
	GATE_ERR_NO_SESSION = -20, /**< a session frame arrived while the controller has no session */
	GATE_ERR_ENTROPY = -21,   /**< hal.random() failed: no challenge issued, no session */
	GATE_ERR_STATE = -22,     /**< the stored boot count was missing, unreadable or unwritable */
};

/** Message types. Host -> controller below 0x80, controller -> host from 0x80. */
enum gate_msg_type {
	GATE_MSG_HEARTBEAT = 0x01,  /* session frame */
	GATE_MSG_STATUS_REQ = 0x02, /* session frame */
	GATE_MSG_HELLO = 0x03,      /* host nonce, untagged: opens a handshake */
	GATE_MSG_OPEN = 0x10,       /* session frame */
	GATE_MSG_DENY = 0x11,       /* session frame */
	GATE_MSG_ALARM = 0x12,      /* session frame */
	GATE_MSG_ACK = 0x80,        /* session frame */
	GATE_MSG_NAK = 0x81,        /* session frame */
	GATE_MSG_STATUS = 0x82,     /* session frame */
	GATE_MSG_EVENT = 0x83,      /* session frame */
	GATE_MSG_CHALLENGE = 0x84,  /* controller nonce, tagged under the new session key */
	GATE_MSG_REFUSE = 0x85,     /* error + ref, tagged under the long-term key */
};

/** NAK and REFUSE error codes on the wire (u8). */
enum gate_nak_code {
	GATE_NAK_VERSION = 1,
	GATE_NAK_TYPE = 2,
	GATE_NAK_LENGTH = 3,
	GATE_NAK_NO_SESSION = 4, /* REFUSE: the frame does not verify under the controller's session */
	GATE_NAK_REPLAY = 5,
	GATE_NAK_VALUE = 6,
	GATE_NAK_ENTROPY = 7,    /* REFUSE: the random source failed, no challenge */
};

/** EVENT kinds on the wire (u8). */
enum gate_event_kind {
	GATE_EVENT_DOOR_FORCED = 1,
	GATE_EVENT_DOOR_HELD_OPEN = 2,
	GATE_EVENT_TAMPER = 3,
	GATE_EVENT_POWER = 4,
};

/** Latched fault flags reported (and then cleared) by STATUS. */
enum gate_fault_flag {
	GATE_FAULT_DOOR_FORCED = 1u << 0,
	GATE_FAULT_DOOR_HELD_OPEN = 1u << 1,
	GATE_FAULT_TAMPER = 1u << 2,
	GATE_FAULT_POWER = 1u << 3,
	GATE_FAULT_HEARTBEAT_LOST = 1u << 4, /* relay was closed because heartbeats stopped */
	GATE_FAULT_SENSOR = 1u << 5,         /* door sensor read failed */
	GATE_FAULT_STATE = 1u << 6,          /* boot count missing/unreadable/unwritable at reset */
	GATE_FAULT_ENTROPY = 1u << 7,        /* hal.random() failed */
};

/** What the core reports to an optional trace hook (simulator, tests, logging). */
enum gate_trace_kind {
	GATE_TRACE_RELAY = 1,     /**< a = 1 on / 0 off, b = reason (gate_relay_reason) */
	GATE_TRACE_EXEC = 2,      /**< a = message type, b = counter, seq = frame seq */
	GATE_TRACE_DUP = 3,       /**< retransmission answered again, not executed */
	GATE_TRACE_REJECT = 4,    /**< a = -enum gate_error, b = counter if known, seq = frame seq */
	GATE_TRACE_EVENT = 5,     /**< a = enum gate_event_kind */
	GATE_TRACE_CHALLENGE = 6, /**< a challenge was issued; session = its id (pending) */
	GATE_TRACE_SESSION = 7,   /**< a pending session became current; session = its id */
};

enum gate_relay_reason {
	GATE_RELAY_CMD_OPEN = 1,
	GATE_RELAY_EXPIRED = 2,
	GATE_RELAY_HEARTBEAT_LOST = 3,
	GATE_RELAY_DENY = 4,
	GATE_RELAY_ALARM = 5,
};

struct gate_trace {
	int kind;
	uint16_t seq;
	uint32_t a;
	uint32_t b;
	uint32_t session; /**< id of the session concerned (controller nonce bytes 0..3), 0 = none */
	uint32_t now_ms;
};

/**
 * Platform abstraction. Every function must return promptly (non-blocking).
 * send/recv contract: return the number of bytes queued/read, 0 for "try again later",
 * < 0 for a fatal error. Optional members may be NULL.
 *
 * random: fill buf with len bytes from a real entropy source (TRNG) and return len, or
 * return < 0 if the source failed (health test failed, not seeded yet). Required: the
 * controller's challenge is what makes every session's key fresh. On failure the core
 * issues no challenge, so no session opens and nothing can open the door.
 *
 * boot_count_load/store: optional NV storage of a reset counter mixed into every challenge
 * (defence in depth against a TRNG that repeats after reset). Replay protection does not
 * depend on it. load returns 0 with *count set, or < 0 if the value is missing or corrupt;
 * store returns 0 once the value is durable (write atomically: a torn write must read back
 * as corrupt, never as an old value), < 0 on failure. Either failure latches
 * GATE_FAULT_STATE; the controller keeps working on hal.random() alone.
 */
struct gate_hal {
	void *ctx;
	int (*send)(void *ctx, const uint8_t *buf, int len);
	int (*recv)(void *ctx, uint8_t *buf, int maxlen);
	uint32_t (*millis)(void *ctx);          /**< monotonic ms, wraps at 2^32 */
	void (*relay_set)(void *ctx, int on);   /**< drive the relay; 1 = open the door */
	int (*door_is_open)(void *ctx);         /**< 1 open, 0 closed, < 0 sensor fault */
	int (*tamper)(void *ctx);               /**< optional: 1 while the case is open */
	void (*alarm)(void *ctx, int kind);     /**< optional: drive the sounder/strobe */
	int (*random)(void *ctx, uint8_t *buf, int len);   /**< required: TRNG bytes, see above */
	int (*boot_count_load)(void *ctx, uint32_t *count); /**< optional: reset counter from NV storage */
	int (*boot_count_store)(void *ctx, uint32_t count); /**< optional: persist it atomically */
	void (*trace)(void *ctx, const struct gate_trace *ev); /**< optional; never sees key material */
};

struct gate_config {
	uint8_t key[GATE_KEY_LEN];
	uint32_t heartbeat_timeout_ms; /**< 0 = GATE_HEARTBEAT_TIMEOUT_MS */
	uint32_t max_open_ms;          /**< 0 = GATE_MAX_OPEN_MS; longer OPENs are NAKed */
	uint32_t door_held_ms;         /**< 0 = GATE_DOOR_HELD_MS */
};

struct gate_status {
	uint8_t relay_open;
	uint8_t door_open;
	uint16_t faults;     /**< enum gate_fault_flag, latched since the last STATUS */
	uint32_t uptime_ms;
	uint32_t boot_count; /**< resets counted in NV storage (0 without boot_count hooks) */
	uint32_t session_id; /**< current session (0 = none: every session frame is refused) */
	uint32_t last_counter; /**< last host counter accepted in the current session */
	uint32_t frames_ok;
	uint32_t frames_rejected;
};

/**
 * Create a controller context. The relay is driven closed; there is no session until a host
 * completes a handshake. The boot count is loaded, incremented and stored (if the HAL has
 * the hooks); a failure there latches GATE_FAULT_STATE and is not fatal.
 * @retval context on success, NULL if an argument is invalid (a required HAL function,
 *         random included, is NULL) or no slot is free.
 * The key is copied; the caller should wipe its copy.
 */
gate_t *gate_init(const struct gate_config *config, const struct gate_hal *hal);

/** Release a context; the relay is closed first and the keys are wiped. */
void gate_deinit(gate_t *gate);

/**
 * Drive the controller: read input, execute frames, run timers, send events.
 * Call at least every GATE_REFRESH_MAX_MS ms.
 * @retval GATE_OK on success, GATE_ERR_IO if the HAL reported a fatal link error.
 */
int gate_refresh(gate_t *gate);

/**
 * Snapshot of the controller state (does not clear the latched faults).
 * @retval GATE_OK, or GATE_ERR_ARG if gate or out is NULL or gate is not initialised.
 */
int gate_get_status(const gate_t *gate, struct gate_status *out);

/** Report an error code as a short constant string ("crc", "tag", "no_session", ...). */
const char *gate_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* BIOGATE_GATE_H */
