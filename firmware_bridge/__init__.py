"""biogate.firmware_bridge — authenticated serial link to the gate controller (host side)."""
