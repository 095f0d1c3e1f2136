pub mod django;
pub mod leftovers;
pub mod sshd;
pub mod sudo;
