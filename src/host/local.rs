//! The local machine as a host (`ansible_connection=local`, `delegate_to: localhost`).
// Implemented by the host-layer work.
