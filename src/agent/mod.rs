//! Agents: the reference agent daemon and simulated agents.

pub mod daemon;
pub mod evidence;
pub mod simulate;
