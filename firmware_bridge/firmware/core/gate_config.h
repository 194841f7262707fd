/* Compile-time tunables: override with -D. Units are in the names. */
#ifndef BIOGATE_GATE_CONFIG_H
#define BIOGATE_GATE_CONFIG_H

#ifndef GATE_MAX_INSTANCES
#define GATE_MAX_INSTANCES 2
#endif

/* Largest payload (fields + counter + tag) a frame may carry. */
#ifndef GATE_MAX_PAYLOAD_LEN
#define GATE_MAX_PAYLOAD_LEN 48
#endif

#ifndef GATE_HEARTBEAT_TIMEOUT_MS
#define GATE_HEARTBEAT_TIMEOUT_MS 1000u
#endif

#ifndef GATE_MAX_OPEN_MS
#define GATE_MAX_OPEN_MS 10000u
#endif

#ifndef GATE_DOOR_HELD_MS
#define GATE_DOOR_HELD_MS 15000u
#endif

#ifndef GATE_REFRESH_MAX_MS
#define GATE_REFRESH_MAX_MS 10u
#endif

/* Events kept while no session is open (or the link is busy); the fault flags keep the rest. */
#ifndef GATE_EVENT_QUEUE_LEN
#define GATE_EVENT_QUEUE_LEN 8
#endif

/* Bytes pulled from the HAL per gate_refresh() call at most (bounds one tick's work). */
#ifndef GATE_RX_CHUNK_LEN
#define GATE_RX_CHUNK_LEN 256
#endif

#define GATE_HEADER_LEN 5
#define GATE_CRC_LEN 2
#define GATE_MAX_FRAME_LEN (GATE_HEADER_LEN + GATE_MAX_PAYLOAD_LEN + GATE_CRC_LEN)
/* COBS worst case: one overhead byte per 254 bytes (plus one), then the 0x00 delimiter. */
#define GATE_COBS_MAX_LEN(n) ((n) + ((n) / 254u) + 1u)
#define GATE_MAX_WIRE_LEN (GATE_COBS_MAX_LEN(GATE_MAX_FRAME_LEN) + 1u)

#endif
