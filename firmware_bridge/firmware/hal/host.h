/*
 * Host HAL: a POSIX file descriptor as the UART, simulated relay/door/tamper, fault injection,
 * entropy from getrandom(2) (or /dev/urandom), and the boot count in a state file written
 * atomically (temp file, fsync, rename, fsync of the folder).
 */
#ifndef BIOGATE_GATE_HAL_HOST_H
#define BIOGATE_GATE_HAL_HOST_H
#include <stdint.h>
#include <stdio.h>

#include "gate.h"

#define HOST_STAGE_LEN 512
#define HOST_DELAY_SLOTS 64

struct host_faults {
	double corrupt; /* probability per byte of flipping it (both directions) */
	double drop;    /* probability per frame of dropping it (both directions) */
	double dup;     /* probability per frame of sending it twice (both directions) */
	uint32_t delay_ms; /* extra latency added to every outgoing frame */
	uint64_t seed;
	int random_fail;   /* 1: the entropy source reports failure (tests the fail-closed path) */
};

struct host_fault_stats {
	uint32_t corrupted_bytes, dropped_frames, duplicated_frames;
};

struct host_delayed {
	uint32_t due_ms;
	uint16_t len;
	uint8_t data[HOST_STAGE_LEN];
};

struct host_hal {
	int fd;
	struct host_faults faults;
	struct host_fault_stats stats;
	uint64_t rng;
	FILE *trace;      /* JSON lines, or NULL */
	const char *state_path; /* file holding the boot count, or NULL (no NV storage) */
	int relay, door_open, tamper, alarm;
	uint32_t relay_opens;
	/* receive path: bytes of the frame being assembled, then bytes ready for the core */
	uint8_t in_frame[HOST_STAGE_LEN];
	size_t in_len;
	uint8_t ready[4 * HOST_STAGE_LEN];
	size_t ready_len;
	/* transmit path with optional delay */
	struct host_delayed delayed[HOST_DELAY_SLOTS];
	int delayed_count;
	int link_dead;
};

void host_hal_init(struct host_hal *h, int fd, const struct host_faults *faults, FILE *trace,
		   const char *state_path);
/** Fill a gate_hal; the boot_count hooks are left NULL when there is no state file. */
void host_hal_bind(struct host_hal *h, struct gate_hal *out);
/** Entropy for the core: getrandom(2) where it exists, else /dev/urandom. @retval len or -1. */
int host_random(uint8_t *buf, int len);
/** The state file: load fails (< 0) when it is missing, empty, cut short or not ours. */
int host_state_load(const char *path, uint32_t *boot_count);
/** Write it atomically and durably. @retval 0, or -1 with errno set. */
int host_state_store(const char *path, uint32_t boot_count);
/** Write frames whose delay has passed. @retval ms until the next one is due, or -1. */
int host_hal_poll(struct host_hal *h);
uint32_t host_millis(void);
#endif
