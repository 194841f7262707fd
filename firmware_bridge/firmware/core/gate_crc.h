/* CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no xorout; check("123456789") = 0x29B1. */
#ifndef BIOGATE_GATE_CRC_H
#define BIOGATE_GATE_CRC_H
#include <stddef.h>
#include <stdint.h>
uint16_t gate_crc16(const uint8_t *data, size_t len);
#endif
