//! E-mail delivery: templates, the mailbox and SMTP transports, the outbox worker (claims,
//! retries with backoff, wiping of delivered parameters). One binary, one module per area.
//!
//! The SMTP tests run a real SMTP server: Python's `aiosmtpd`, installed on first use in a
//! virtual environment under `${XDG_CACHE_HOME:-~/.cache}/concierge-smtp-sink-venv`. They fail
//! (never skip) when it cannot be set up.

mod invitations;
mod mailbox;
mod smtp;
mod support;
mod templates;
mod worker;
