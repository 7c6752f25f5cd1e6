//! The supervisor's rules over all services, as pure functions.
//!
//! [`crate::machine`] decides for one service; the rules here decide across
//! services: what a reload changes ([`reload`]). They read plain data and
//! return plain data, so they are unit-tested without a process, and the
//! [`crate::Supervisor`] around them only performs what they return.

pub mod reload;

#[cfg(test)]
pub(crate) mod testing;
