//! Runs a validated playbook: plays, batches, tasks, handlers; emits events.
