//! Helpers shared by the bench binaries.

/// The value after `name` on the command line (`--batches 20` → `Some("20")`).
pub fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}
