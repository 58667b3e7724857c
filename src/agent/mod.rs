//! Agents: the reference agent daemon and simulated agents.

pub mod evidence;
pub mod simulate;
