pub mod django;
pub mod sshd;
