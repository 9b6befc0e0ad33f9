//! An SSH host: one OpenSSH master per host, every command multiplexed over it.
// Implemented by the host-layer work.
