//! The supervisor's rules over all services, as pure functions.
//!
//! [`crate::machine`] decides for one service; the rules here decide across
//! services: when a service may start and whether it lost a dependency
//! ([`dependencies`]), what checks add up to and what a result does
//! ([`health`]), the order of a shutdown ([`shutdown`]), what a reload
//! changes ([`reload`]), whether a start may take its port ([`port`]), when
//! file changes restart a service ([`watch`]). They read plain data and
//! return plain data, so they are unit-tested without a process, and the
//! [`crate::Supervisor`] around them only performs what they return.

pub mod dependencies;
pub mod health;
pub mod port;
pub mod reload;
pub mod shutdown;
pub mod watch;

#[cfg(test)]
pub(crate) mod testing;
