/* Frame layer shared by the controller and the tests/fuzzer: layout, CRC, tag, lengths. */
#ifndef BIOGATE_GATE_FRAME_H
#define BIOGATE_GATE_FRAME_H
#include <stddef.h>
#include <stdint.h>

#include "gate.h"
#include "gate_config.h"

/* Payload field sizes (little-endian on the wire). */
#define GATE_COUNTER_LEN 4u

/** A parsed, CRC-checked frame. payload points into the caller's raw buffer. */
struct gate_frame {
	uint8_t version;
	uint8_t type;
	uint16_t seq;
	uint8_t payload_len;
	const uint8_t *payload;
	const uint8_t *raw;       /* header start: the tag covers raw[0 .. signed_len) */
	size_t signed_len;        /* header + payload minus tag (authenticated types) */
};

/** Expected payload length of a message type, or -1 if the type is unknown. */
int gate_msg_payload_len(uint8_t type);

/** 1 if the type is tagged (every known type but HELLO). */
int gate_msg_has_tag(uint8_t type);
/** 1 if the type is a session frame: body, then counter u32, then tag under the session key. */
int gate_msg_has_counter(uint8_t type);

/**
 * Check one decoded frame: size, CRC, version, known type, length for that type.
 * Does not verify the tag (needs the key) - see gate_frame_verify_tag().
 * @retval GATE_OK or GATE_ERR_SHORT / _OVERSIZE / _CRC / _VERSION / _TYPE / _LENGTH.
 *         Header fields in *out are valid from GATE_ERR_VERSION on (CRC passed).
 */
int gate_frame_parse(const uint8_t *raw, size_t raw_len, struct gate_frame *out);

/** Decode one COBS block and parse it. scratch must hold GATE_MAX_FRAME_LEN bytes. */
int gate_frame_decode(const uint8_t *wire, size_t wire_len, uint8_t *scratch, size_t scratch_cap,
		      struct gate_frame *out);

/**
 * @retval 1 if the truncated HMAC-SHA256 tag at the end of the payload verifies under key
 *         (32 bytes: the session key, or the long-term key for REFUSE), else 0.
 */
int gate_frame_verify_tag(const struct gate_frame *f, const uint8_t key[GATE_KEY_LEN]);

/** The 32-bit counter of a session frame (just before the tag). */
uint32_t gate_frame_counter(const struct gate_frame *f);

/** REFUSE ref of a frame: the first 8 of its last 16 payload bytes (zeros if shorter). */
void gate_frame_ref(const struct gate_frame *f, uint8_t ref[GATE_REF_LEN]);

/**
 * Build a frame: header, body, (tag if the type has one), CRC; then COBS + 0x00 delimiter.
 * body is the payload without the tag (the counter included for session frames).
 * @retval wire length or GATE_ERR_ARG.
 */
int gate_frame_build(uint8_t type, uint16_t seq, const uint8_t *body, size_t body_len,
		     const uint8_t *key, uint8_t *wire, size_t wire_cap);

void gate_put_u16(uint8_t *p, uint16_t v);
void gate_put_u32(uint8_t *p, uint32_t v);
uint16_t gate_get_u16(const uint8_t *p);
uint32_t gate_get_u32(const uint8_t *p);
#endif
