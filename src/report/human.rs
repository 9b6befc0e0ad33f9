//! Output shaped like ansible-playbook's.
