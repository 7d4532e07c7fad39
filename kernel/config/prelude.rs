// Run at the start of every "Rust (genolm)" kernel session (evcxr prelude).
use genolm::prelude::*;
